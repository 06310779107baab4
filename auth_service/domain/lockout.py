"""Brute-force defences: per-account lockout with back-off, and a per-client-address
throttle.

Account (`LockoutPolicy`, state on `StaffUser`): after 5 consecutive failed logins the
account is locked for 1 minute; every further failure after that doubles the lock (2, 4,
8, ... minutes) up to 1 hour. A successful login resets the count; so does a quiet day
(the count restarts when the previous failure is older than `failure_memory`, 24 hours).
Attempts while locked are refused without checking the password and are not counted.

Client address (`AddressThrottlePolicy`, state in Redis): at most 20 failed logins per
address in a 15-minute fixed window, across all accounts (password spraying). IPv6
addresses count per /64, the block one client usually holds. The adapter does
`INCR key` + `EXPIRE key window NX` on every failure, and `GET key` / `TTL key` before
checking a password, then asks `decide(count, ttl)`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

__all__ = [
    "DEFAULT_ADDRESS_THROTTLE",
    "DEFAULT_LOCKOUT",
    "AddressThrottlePolicy",
    "LockoutPolicy",
    "ThrottleDecision",
    "client_bucket",
]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int = 5
    base_lock: timedelta = timedelta(minutes=1)
    max_lock: timedelta = timedelta(hours=1)
    failure_memory: timedelta = timedelta(hours=24)

    def lock_duration(self, consecutive_failures: int) -> timedelta | None:
        """How long to lock after this many consecutive failures (None: no lock)."""
        if consecutive_failures < self.threshold:
            return None
        doublings = consecutive_failures - self.threshold
        if doublings >= 32:  # far past the cap; avoid huge integers
            return self.max_lock
        return min(self.base_lock * (2**doublings), self.max_lock)


DEFAULT_LOCKOUT: Final = LockoutPolicy()


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    allowed: bool
    retry_after_seconds: int = 0


def client_bucket(address: str) -> str:
    """What one client counts as: the IPv4 address, or the /64 of an IPv6 address
    (IPv4-mapped IPv6 counts as IPv4). Anything unparsable is used as given."""
    text = address.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "10.0.0.1:5000"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return address.strip().lower() or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class AddressThrottlePolicy:
    max_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    key_prefix: str = "kopa:auth:login_failures:"

    def redis_key(self, address: str) -> str:
        return self.key_prefix + client_bucket(address)

    @property
    def window_seconds(self) -> int:
        return int(self.window.total_seconds())

    def decide(self, failures_in_window: int, ttl_seconds: int | None = None) -> ThrottleDecision:
        """Whether a login attempt from an address with this many recent failures may
        proceed; when not, retry after the window's remaining time (`ttl_seconds`, as
        returned by Redis TTL; the whole window when unknown)."""
        if failures_in_window < self.max_failures:
            return ThrottleDecision(True)
        remaining = ttl_seconds if ttl_seconds is not None and ttl_seconds > 0 else None
        return ThrottleDecision(False, remaining or self.window_seconds)


DEFAULT_ADDRESS_THROTTLE: Final = AddressThrottlePolicy()
