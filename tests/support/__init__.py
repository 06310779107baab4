"""Test scaffolding shared by the tiers (one place, not a copy per test file)."""
