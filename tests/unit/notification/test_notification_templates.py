"""Templates: Kopa's defaults render for every kind, channel and language; a bad template is
refused when saved, naming the field and the line; the sandbox holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification_service.domain import templates as t
from notification_service.domain.templates import Channel, Kind
from shared.errors import ValidationError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("language", t.LANGUAGES)
@pytest.mark.parametrize("channel", t.TEMPLATED)
def test_every_default_passes_its_own_check_and_names_the_borrower(
    kind: Kind, language: str, channel: Channel
) -> None:
    text = t.DEFAULTS[(kind, language)]
    subject = text.subject if channel is Channel.EMAIL else ""
    t.check(kind, channel, subject, text.body)
    rendered = t.render(text.body, t.sample(kind))
    assert "Achieng" in rendered and "Umoja Microfinance" in rendered
    assert "{{" not in rendered


def test_the_english_repayment_text_carries_amount_and_balance() -> None:
    text = t.render(
        t.DEFAULTS[(Kind.REPAYMENT_RECEIVED, "en")].body,
        {**t.sample(Kind.REPAYMENT_RECEIVED), "amount": "KES 1,000.00", "balance": "KES 9.00"},
    )
    assert "KES 1,000.00" in text and "Remaining balance: KES 9.00" in text


def test_a_syntax_error_is_refused_with_its_line() -> None:
    with pytest.raises(ValidationError) as raised:
        t.check(Kind.INSTALLMENT_DUE, Channel.SMS, "", "Dear {{ first_name }},\npay {{ amount_due ")
    assert raised.value.field_errors[0][0] == "body"
    assert raised.value.field_errors[0][1].startswith("line 2:")


def test_an_unknown_variable_is_refused_naming_it_and_its_line() -> None:
    with pytest.raises(ValidationError) as raised:
        t.check(
            Kind.REPAYMENT_RECEIVED, Channel.SMS, "", "Hi {{ first_name }}\n\nowed: {{ arrears }}"
        )
    field, message = raised.value.field_errors[0]
    assert field == "body" and message.startswith("line 3: unknown variable `arrears`")
    assert raised.value.reason == "TEMPLATE_INVALID"


def test_an_email_needs_a_subject_and_an_sms_has_none() -> None:
    with pytest.raises(ValidationError) as raised:
        t.check(Kind.LOAN_APPROVED, Channel.EMAIL, "", "Approved, {{ first_name }}")
    assert [f for f, _ in raised.value.field_errors] == ["subject"]
    with pytest.raises(ValidationError) as raised:
        t.check(Kind.LOAN_APPROVED, Channel.SMS, "Hello", "Approved, {{ first_name }}")
    assert [f for f, _ in raised.value.field_errors] == ["subject"]


def test_the_sandbox_refuses_reaching_python_internals_when_saved() -> None:
    with pytest.raises(ValidationError) as raised:
        t.check(
            Kind.LOAN_APPROVED,
            Channel.SMS,
            "",
            "{{ first_name.__class__.__mro__[1].__subclasses__() }}",
        )
    assert raised.value.field_errors[0][0] == "body"


def test_a_multi_line_sms_keeps_its_words_and_loses_the_layout() -> None:
    assert t.render("Hi {{ first_name }}   there", {"first_name": "A"}) == "Hi A there"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_is_either_accepted_or_refused_never_crashes(body: str) -> None:
    try:
        t.check(Kind.INSTALLMENT_OVERDUE, Channel.SMS, "", body)
    except ValidationError as exc:
        assert exc.field_errors and all(f == "body" for f, _ in exc.field_errors)
    else:
        t.render(body, t.sample(Kind.INSTALLMENT_OVERDUE))
