"""What auth_service asks user_service: does this branch or institution exist?

The calls carry the caller's own token (the channel's interceptor forwards it), so
user_service applies its own scope rules too: an admin cannot see another institution's
branch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import grpc

from kopa.user.v2 import user_pb2, user_pb2_grpc


class Directory(ABC):
    @abstractmethod
    async def branch_institution(self, branch_id: str) -> str | None:
        """The institution owning the branch, or None if it does not exist (for the caller)."""

    @abstractmethod
    async def institution_exists(self, institution_id: str) -> bool: ...


class UserServiceDirectory(Directory):
    def __init__(self, channel: Any) -> None:
        self._stub = user_pb2_grpc.UserServiceStub(channel)

    async def branch_institution(self, branch_id: str) -> str | None:
        try:
            reply = await self._stub.GetBranch(user_pb2.GetBranchRequest(branch_id=branch_id))
        except grpc.aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return None
            raise
        return reply.branch.institution_id or None

    async def institution_exists(self, institution_id: str) -> bool:
        try:
            await self._stub.GetInstitution(
                user_pb2.GetInstitutionRequest(institution_id=institution_id)
            )
        except grpc.aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return False
            raise
        return True
