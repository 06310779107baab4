"""The staff console's build steps, each skipped when nothing it depends on changed:

- `install`: its npm packages, exactly as console/package-lock.json pins them (`npm ci`);
- `build`: the production files in console/dist, which the gateway serves at `/`;
- `api`: its typed API client (console/src/api/schema.d.ts) from the gateway's OpenAPI
  document, as the proto stubs are generated from the contracts; `api --check` fails when
  the checked-in client differs (run by `make test`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "console"
TARGET = CONSOLE / "src/api/schema.d.ts"
LOCK = CONSOLE / "package-lock.json"
INSTALLED = CONSOLE / "node_modules/.kopa-lock-sha256"
BUILT = CONSOLE / "dist/.kopa-sources-sha256"
SOURCES = ("src", "public", "index.html", "package-lock.json", "tsconfig.json", "vite.config.ts")


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            if f.exists():
                h.update(str(f.relative_to(CONSOLE)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise SystemExit(
            "[console] npm is missing: install Node.js 20 or newer (apt-get install nodejs npm)"
        )
    return found


def install() -> None:
    wanted = digest(LOCK)
    if INSTALLED.exists() and INSTALLED.read_text() == wanted:
        return
    print("[console] npm ci (from console/package-lock.json)", flush=True)
    subprocess.run(  # noqa: S603 - npm, found on PATH, with fixed arguments
        [npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CONSOLE, check=True
    )
    INSTALLED.write_text(wanted)


def build() -> None:
    install()
    wanted = digest(*(CONSOLE / s for s in SOURCES))
    if BUILT.exists() and BUILT.read_text() == wanted:
        print("[console] built files are up to date", flush=True)
        return
    print("[console] building console/dist (tsc + vite)", flush=True)
    subprocess.run([npm(), "run", "--silent", "build"], cwd=CONSOLE, check=True)  # noqa: S603
    BUILT.write_text(wanted)


def openapi_document() -> dict[str, object]:
    # Building the app opens no connection (that happens at start-up), so any URLs do.
    for name in ("MONGODB_URL", "ELASTICSEARCH_URL", "AMQP_URL", "REDIS_URL"):
        os.environ.setdefault(name, "unused://")
    os.environ.setdefault("KOPA_ENV", "local")
    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from shared.config import load_settings
    from shared.logging import configure_logging

    configure_logging("console-api", "error")  # the app's start-up notes are not news here
    return create_app(load_settings(GatewaySettings)).openapi()


def generate(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        document.write_text(json.dumps(openapi_document(), indent=1, sort_keys=True))
        subprocess.run(  # noqa: S603 - the locked openapi-typescript, fixed arguments
            [str(CONSOLE / "node_modules/.bin/openapi-typescript"), str(document), "-o", str(out)],
            check=True,
            capture_output=True,
        )


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "install":
        install()
        return 0
    if command == "build":
        build()
        return 0
    if command != "api":
        print("usage: tools/console.py install | build | api [--check]", file=sys.stderr)
        return 2
    install()
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
