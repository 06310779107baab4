"""Pure domain core of the loan service (placeholder docstring; completed below)."""
