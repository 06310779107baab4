"""Group loans and securities, the pure rules: the pro-rata split of a group's repayment,
the product's group terms, and the coverage a product requires of guarantors and collateral."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loan_service.domain.group_loans import (
    GroupLending,
    check_members,
    check_no_group_arrears,
    split_pro_rata,
)
from loan_service.domain.securities import (
    Collateral,
    CollateralType,
    Guarantor,
    check_collateral,
    check_coverage,
    outside_person,
)
from shared.errors import IllegalState, ValidationError

pytestmark = pytest.mark.unit

D = Decimal


def test_a_split_follows_what_each_member_owes() -> None:
    parts = split_pro_rata(D("1000"), {"a": D("600"), "b": D("300"), "c": D("100")}, 2)
    assert parts == {"a": D("600.00"), "b": D("300.00"), "c": D("100.00")}


def test_leftover_cents_go_to_the_largest_remainders() -> None:
    # 100.00 over three equal dues: 33.33 each and one cent left, to the first.
    parts = split_pro_rata(D("100"), {"a": D("1"), "b": D("1"), "c": D("1")}, 2)
    assert parts == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    # 10 over 2:1 with no decimals: 6.67 and 3.33 exactly; 6 and 3 then the unit to 0.67.
    assert split_pro_rata(D("10"), {"a": D("2"), "b": D("1")}, 0) == {"a": D("7"), "b": D("3")}


def test_nothing_owed_splits_evenly_and_bad_amounts_are_named() -> None:
    assert split_pro_rata(D("9"), {"a": D("0"), "b": D("0")}, 0) == {"a": D("5"), "b": D("4")}
    for amount in (D("0"), D("-5"), D("1.234")):
        with pytest.raises(ValidationError) as exc:
            split_pro_rata(amount, {"a": D("1")}, 2)
        assert exc.value.field_errors[0][0] == "amount"


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30),
    exponent=st.sampled_from([0, 2, 3]),
)
def test_a_split_is_exact_and_fair_to_the_minor_unit(
    amount: int, weights: list[int], exponent: int
) -> None:
    unit = D(1).scaleb(-exponent)
    total_amount = D(amount) * unit
    keyed = {f"m{i}": D(w) for i, w in enumerate(weights)}
    parts = split_pro_rata(total_amount, keyed, exponent)
    assert sum(parts.values()) == total_amount
    assert all(p >= 0 and p % unit == 0 for p in parts.values())
    total = sum(keyed.values())
    for key, weight in keyed.items():
        exact = total_amount * weight / total if total else total_amount / len(keyed)
        assert abs(parts[key] - exact) < unit  # within one minor unit of the exact share
        if total and weight == 0:
            assert parts[key] == 0


def test_a_product_lends_to_groups_of_its_size_only() -> None:
    with pytest.raises(ValidationError) as off:
        GroupLending().check_size(5)
    assert off.value.field_errors[0][0] == "product_id"
    terms = GroupLending(enabled=True, min_members=3, max_members=5, joint_liability=True)
    terms.check_size(3)
    for size in (2, 6):
        with pytest.raises(ValidationError) as exc:
            terms.check_size(size)
        assert exc.value.field_errors[0][0] == "members"


def test_every_requested_member_belongs_to_the_group_once() -> None:
    with pytest.raises(ValidationError) as exc:
        check_members(
            [("b1", D("100")), ("b9", D("100")), ("b1", D("50")), ("b2", D("0"))],
            ["b1", "b2"],
            "grp_1",
        )
    assert [f for f, _ in exc.value.field_errors] == [
        "members[1].borrower_id",
        "members[2].borrower_id",
        "members[3].principal",
    ]
    check_members([("b1", D("100")), ("b2", D("50"))], ["b1", "b2", "b3"], "grp_1")


def test_a_jointly_liable_group_in_arrears_borrows_no_more() -> None:
    check_no_group_arrears("grp_1", 0)
    with pytest.raises(IllegalState) as exc:
        check_no_group_arrears("grp_1", 12)
    assert exc.value.reason == "GROUP_IN_ARREARS"


def _g(amount: str) -> Guarantor:
    return Guarantor(id="g", amount=D(amount), borrower_id="b2")


def _c(value: str) -> Collateral:
    return Collateral("c", CollateralType.VEHICLE, "boda boda", D(value), "KES")


def test_coverage_counts_guarantees_and_collateral_together() -> None:
    check_coverage(D("10000"), "KES", 2, D("1.2"), [_g("7000")], [_c("5000")])  # exactly 120%
    check_coverage(D("10000"), "KES", 2, None, [], [])  # no rule
    with pytest.raises(IllegalState) as exc:
        check_coverage(D("10000"), "KES", 2, D("1.2"), [_g("7000")], [_c("4000")])
    assert exc.value.reason == "SECURITY_INSUFFICIENT"
    assert exc.value.metadata["missing"] == "1000.00"
    assert "120%" in exc.value.message and "add 1000.00 KES more" in exc.value.message


def test_an_outside_guarantor_and_a_collateral_item_name_every_bad_field() -> None:
    with pytest.raises(ValidationError) as person:
        outside_person({"full_name": "<b>", "national_id": "x", "phone": "0712"})
    assert [f for f, _ in person.value.field_errors] == ["full_name", "national_id", "phone"]
    assert outside_person(
        {"full_name": " Juma Otieno ", "national_id": "a1234567", "phone": "+254 712 345678"}
    ) == ("Juma Otieno", "A1234567", "+254712345678")
    with pytest.raises(ValidationError) as item:
        check_collateral({"type": "spaceship", "description": ""})
    assert [f for f, _ in item.value.field_errors] == ["type", "description"]
