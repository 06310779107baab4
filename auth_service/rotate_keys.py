"""Rotate the access-token signing key now: `python -m auth_service.rotate_keys`.

Adds a key in the next slot. Running replicas publish it in their JWKS at their next reload
and sign with it from its activation time on (one publication delay from now); the old key
keeps verifying until the tokens it signed have expired. `--if-older-than-days N` rotates
only when the newest key is older than N days (for a scheduled job). Reads the same
environment as the service (`MONGODB_URL`, `KOPA_NAMESPACE`, `KOPA_KEY_ENCRYPTION_SECRET`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta

from auth_service.adapters.keys import KeyStore
from auth_service.bootstrap import Settings, secret_box
from shared.config import load_settings
from shared.mongo import connect


async def rotate(settings: Settings, if_older_than_days: float | None) -> int:
    client, db = connect(settings.mongodb_url, settings.mongodb_database, app_name="auth-rotate")
    try:
        store = KeyStore(db, secret_box(settings))
        await store.ensure_indexes()
        now = datetime.now(UTC)
        keys, taken = await store.snapshot()
        if (
            if_older_than_days is not None
            and keys
            and keys[-1].created_at > now - timedelta(days=if_older_than_days)
        ):
            sys.stdout.write(f"newest key {keys[-1].kid} is recent enough; nothing to do\n")
            return 0
        activate_at = now + settings.key_publish_delay
        kid = await store.create(taken + 1, now, activate_at)
        if kid is None:
            sys.stderr.write("another rotation claimed the slot at the same time; nothing done\n")
            return 1
        when = f"{activate_at:%Y-%m-%dT%H:%M:%SZ}"
        sys.stdout.write(f"new signing key {kid}, signing from {when}\n")
        return 0
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m auth_service.rotate_keys",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--if-older-than-days", type=float, default=None)
    args = parser.parse_args(argv)
    return asyncio.run(rotate(load_settings(Settings), args.if_older_than_days))


if __name__ == "__main__":
    raise SystemExit(main())
