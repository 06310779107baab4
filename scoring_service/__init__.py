"""Kopa scoring service: scorecards, rule language and statistical scorecards."""
