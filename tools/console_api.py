"""The console's typed API client from the gateway's OpenAPI document, as the proto stubs are
generated from the contracts: `make console-api` writes console/src/api/schema.d.ts,
`--check` fails when the checked-in file differs (run by `make test`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "console"
TARGET = CONSOLE / "src/api/schema.d.ts"


def openapi_document() -> dict[str, object]:
    # Building the app opens no connection (that happens at start-up), so any URLs do.
    for name in ("MONGODB_URL", "ELASTICSEARCH_URL", "AMQP_URL", "REDIS_URL"):
        os.environ.setdefault(name, "unused://")
    os.environ.setdefault("KOPA_ENV", "local")
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    return create_app(GatewaySettings()).openapi()


def generate(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        document.write_text(json.dumps(openapi_document(), indent=1, sort_keys=True))
        subprocess.run(
            [str(CONSOLE / "node_modules/.bin/openapi-typescript"), str(document), "-o", str(out)],
            check=True,
            capture_output=True,
        )


def main() -> int:
    if "--check" not in sys.argv:
        generate(TARGET)
        print(f"[console-api] wrote {TARGET.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "schema.d.ts"
        generate(fresh)
        if not TARGET.exists() or fresh.read_text() != TARGET.read_text():
            print(
                f"[console-api] {TARGET.relative_to(ROOT)} differs from the gateway's OpenAPI: "
                "run `make console-api` and commit it",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
