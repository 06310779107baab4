"""gRPC call helpers for the integration tests: the bearer metadata and the error a call
fails with."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
import pytest

from shared.rpc_errors import RpcErrorDetails, details_of

Code = grpc.StatusCode


def md(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that authenticates as the holder of access token `token`."""
    return (("authorization", f"Bearer {token}"),)


async def fails(call: Awaitable[Any]) -> RpcErrorDetails:
    """The details of the error `call` fails with; it must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return details_of(info.value)


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> RpcErrorDetails:
    """As `fails`, and the status must be `code`."""
    details = await fails(call)
    assert details.code == code, (details.code, details.reason, details.message)
    return details
