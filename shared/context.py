"""What a request carries through a service: who asked, their token, the request id.

Set by the gRPC server interceptor, read by servicers and by outbound client interceptors
(which forward the token and request id to peers, so each peer verifies the caller itself).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import Unauthenticated

if TYPE_CHECKING:
    from shared.permissions import Principal


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    token: str = ""
    principal: Principal | None = None
    client_address: str = ""
    user_agent: str = ""


_current: ContextVar[RequestContext] = ContextVar("kopa_request", default=RequestContext())  # noqa: B039


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> None:
    _current.set(ctx)


def principal() -> Principal:
    """The authenticated caller; raises Unauthenticated when the call carried no valid token."""
    p = _current.get().principal
    if p is None:
        raise Unauthenticated("a valid access token is required", reason="TOKEN_MISSING")
    return p
