"""Opaque, time-ordered ids: a kind prefix, 12 hex digits of milliseconds, 16 random hex digits.

Time order makes `_id` a stable pagination key; the prefix makes logs readable.
"""

from __future__ import annotations

import secrets
import time


def new_id(kind: str) -> str:
    return f"{kind}_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"
