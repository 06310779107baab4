"""The staff console (console/, built by `make console`) served at `/`: its files, and its
index for any other path so that a deep link (/loans/123) opens the single-page app. The API
stays under /v1 and its docs at /docs; those paths never fall back to the console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.problems import allowed_methods
from shared.logging import get_logger

log = get_logger(__name__)

BUILT = Path(__file__).resolve().parents[1] / "console" / "dist"
API_PREFIXES = ("v1/", "docs", "redoc", "openapi.json", "static-offline-docs/")

# What the console's own pages may load: only themselves. A script injected through a
# borrower's name would neither run inline nor load from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(API_PREFIXES):
            # Reached only when no API route took the request: a method the path does not
            # take (405, with its Allow) or a path that does not exist.
            known = allowed_methods(Request(scope))
            raise HTTPException(status_code=404 if known == "OPTIONS" else 405)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as missing:
            if missing.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            response = await super().get_response("index.html", scope)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        if path.startswith("assets/"):  # content-hashed names: never change
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:  # index.html, sw.js, the manifest: always revalidated, so updates reach agents
            response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI, built: Path = BUILT) -> None:
    """Mounted last: every route of the API is matched before it."""
    if (built / "index.html").exists():
        app.mount("/", ConsoleFiles(directory=built, html=True), name="console")
        return
    log.warning("console_not_built", directory=str(built), fix="run `make console`")

    @app.get("/", include_in_schema=False)
    async def not_built() -> PlainTextResponse:
        return PlainTextResponse(
            "The console is not built: run `make console` (or `make up`).", status_code=503
        )
