"""The UserService servicer of kopa.user.v2: institutions, branches and borrowers with typed
contracts.

It shares every method but the edit with kopa.user.v1's servicer (`UserUseCases`): a
borrower's google.type.Date, google.type.Money and Gender are read once at the edge
(`mapping.borrower_fields`, a malformed one refused naming its field) and the use case judges
the values as v1's (the income against the institution's currency); the answer is written in
v2's messages (`mapping.V2`)."""

from __future__ import annotations

from kopa.user.v2 import user_pb2, user_pb2_grpc
from user_service.entrypoints import mapping as m
from user_service.entrypoints.grpc_servicer import Ctx, UserUseCases


class UserServicer(UserUseCases, user_pb2_grpc.UserServiceServicer):
    wire = m.V2

    async def UpdateBorrower(
        self, request: user_pb2.UpdateBorrowerRequest, context: Ctx
    ) -> user_pb2.UpdateBorrowerResponse:
        # The named fields as v1's JSON edit carries them (a zero value as its null: cleared,
        # or refused where required); a path that is no editable field is the use case's to
        # name.
        values, currencies = m.borrower_fields(request.borrower)
        changes = {path: values.get(path) for path in request.update_mask.paths}
        doc = await self.h.update_borrower(
            request.borrower_id, changes, request.expected_version, currencies
        )
        return user_pb2.UpdateBorrowerResponse(borrower=await self._borrower(doc))
