"""Group loans: one application for a joint-liability group, one loan per member.

The member loans are ordinary loans (each with its schedule, arrears and statement); the
group loan ties them together: it is approved and disbursed as one, a repayment made at the
group's meeting is split across them, and under joint liability the group's arrears are
every member's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from shared.errors import IllegalState, ValidationError


class GroupLoanStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    ACTIVE = "active"
    REJECTED = "rejected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class GroupLending:
    """A product's terms for groups: whether it lends to them, how many members a group
    borrowing under it has, and whether they are jointly liable."""

    enabled: bool = False
    min_members: int = 0
    max_members: int = 0
    joint_liability: bool = False

    def check_size(self, members: int) -> None:
        if not self.enabled:
            raise ValidationError.of("product_id", "the product does not lend to groups")
        if self.min_members and members < self.min_members:
            raise ValidationError.of(
                "members", f"the product lends to groups of at least {self.min_members} members"
            )
        if self.max_members and members > self.max_members:
            raise ValidationError.of(
                "members", f"the product lends to groups of at most {self.max_members} members"
            )


def check_members(
    requested: list[tuple[str, Decimal]], group_members: list[str], group_id: str
) -> None:
    """Each requested borrower is a current member of the group, once."""
    errors = []
    seen: set[str] = set()
    for i, (borrower_id, principal) in enumerate(requested):
        if borrower_id in seen:
            errors.append((f"members[{i}].borrower_id", f"borrower {borrower_id} appears twice"))
        seen.add(borrower_id)
        if borrower_id not in group_members:
            errors.append(
                (
                    f"members[{i}].borrower_id",
                    f"borrower {borrower_id} is not a member of group {group_id}",
                )
            )
        if principal <= 0:
            errors.append((f"members[{i}].principal", "must be more than zero"))
    if not requested:
        errors.append(("members", "name at least one member and their principal"))
    if errors:
        raise ValidationError("the group loan application is invalid", field_errors=errors)


def check_no_group_arrears(group_id: str, days_past_due: int) -> None:
    """Under joint liability a group with a member loan in arrears borrows no more."""
    if days_past_due > 0:
        raise IllegalState(
            f"group {group_id} has loans {days_past_due} days past due; under joint liability "
            "it borrows again once its arrears are cleared",
            reason="GROUP_IN_ARREARS",
        )


def split_pro_rata(
    amount: Decimal, weights: dict[str, Decimal], exponent: int
) -> dict[str, Decimal]:
    """`amount` split over the keys of `weights` in proportion to them, each part a whole
    number of minor units (`exponent` decimals) and the parts summing to `amount` exactly:
    each part rounded down, then the minor units left over go one by one to the largest
    remainders (ties to the key first in `weights`). Zero weights get nothing unless every
    weight is zero, when the amount is split evenly."""
    if amount <= 0:
        raise ValidationError.of("amount", "must be more than zero")
    if not weights:
        raise ValidationError.of("amount", "nothing to split it across")
    unit = Decimal(1).scaleb(-exponent)
    minor = int((amount / unit).to_integral_value())
    if minor * unit != amount:
        raise ValidationError.of("amount", f"at most {exponent} decimals")
    total = sum(weights.values(), Decimal(0))
    shares = (
        {k: Decimal(1) for k in weights}
        if total <= 0
        else {k: max(w, Decimal(0)) for k, w in weights.items()}
    )
    total = sum(shares.values(), Decimal(0))
    exact = {k: Decimal(minor) * w / total for k, w in shares.items()}
    parts = {k: int(v.to_integral_value(rounding=ROUND_DOWN)) for k, v in exact.items()}
    left = minor - sum(parts.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - parts[k]), list(weights).index(k)))
    for k in order[:left]:
        parts[k] += 1
    return {k: Decimal(v) * unit for k, v in parts.items()}
