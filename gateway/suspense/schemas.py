from __future__ import annotations

from pydantic import Field, StrictStr

from gateway.schema import Strict


class AssignBody(Strict):
    loan_id: StrictStr = Field(
        description="the loan the money pays; empty: the one its reference suggested, if any"
    )
