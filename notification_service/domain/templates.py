"""Message templates: what each kind of message may say, Kopa's default texts in English and
Swahili, and the checks that refuse a bad template when it is saved, never when it is sent.

Templates are Jinja2 rendered in an immutable sandbox (no attribute access to Python
internals, no mutation) with undefined variables an error. Every variable is text prepared
by the caller (amounts already formatted with their currency, dates ISO), so a template
only places and combines them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.errors import ValidationError


class Kind(StrEnum):
    INSTALLMENT_DUE = "installment_due"
    INSTALLMENT_OVERDUE = "installment_overdue"
    REPAYMENT_RECEIVED = "repayment_received"
    LOAN_DISBURSED = "loan_disbursed"
    LOAN_APPROVED = "loan_approved"
    LOAN_REJECTED = "loan_rejected"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


LANGUAGES = ("en", "sw")
#: Templated channels (in-app and webhook messages are not templated).
TEMPLATED = (Channel.SMS, Channel.EMAIL)

_COMMON = ("first_name", "last_name", "full_name", "institution_name", "loan_id", "currency")

#: The variables each kind offers, with the sample values a template is tried with on save.
VARIABLES: Mapping[Kind, Mapping[str, str]] = {
    Kind.INSTALLMENT_DUE: {
        "amount_due": "KES 1,250.00",
        "due_date": "2026-03-31",
        "installment_number": "3",
        "days_before": "2",
        "balance": "KES 8,400.00",
    },
    Kind.INSTALLMENT_OVERDUE: {
        "amount_overdue": "KES 1,250.00",
        "days_past_due": "5",
        "oldest_due_date": "2026-03-26",
        "balance": "KES 8,400.00",
    },
    Kind.REPAYMENT_RECEIVED: {
        "amount": "KES 1,000.00",
        "paid_on": "2026-03-31",
        "balance": "KES 7,400.00",
    },
    Kind.LOAN_DISBURSED: {
        "principal": "KES 10,000.00",
        "disbursed_net": "KES 9,800.00",
        "disbursement_date": "2026-03-01",
        "first_due_date": "2026-03-31",
        "first_installment": "KES 1,250.00",
        "maturity_date": "2026-10-31",
    },
    Kind.LOAN_APPROVED: {"principal": "KES 10,000.00", "approved_on": "2026-02-27"},
    Kind.LOAN_REJECTED: {"reason": "insufficient income"},
}
_SAMPLE_COMMON = {
    "first_name": "Achieng",
    "last_name": "Otieno",
    "full_name": "Achieng Otieno",
    "institution_name": "Umoja Microfinance",
    "loan_id": "loan_019d2b6c1a4e3f9a8b7c6d5e4f30",
    "currency": "KES",
}


def variables(kind: Kind) -> list[str]:
    return sorted((*_COMMON, *VARIABLES[kind]))


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


_SIGN = "{{ institution_name }}"

# Short enough for one or two SMS parts; the email bodies say the same, addressed.
DEFAULTS: Mapping[tuple[Kind, str], Text] = {
    (Kind.INSTALLMENT_DUE, "en"): Text(
        "Installment due on {{ due_date }}",
        "Dear {{ first_name }}, your loan installment of {{ amount_due }} is due on "
        "{{ due_date }}. Please pay on time. " + _SIGN,
    ),
    (Kind.INSTALLMENT_OVERDUE, "en"): Text(
        "Installment overdue",
        "Dear {{ first_name }}, your installment of {{ amount_overdue }} is "
        "{{ days_past_due }} days overdue. Please pay as soon as you can to avoid "
        "penalties. " + _SIGN,
    ),
    (Kind.REPAYMENT_RECEIVED, "en"): Text(
        "Payment received: {{ amount }}",
        "Dear {{ first_name }}, we received your payment of {{ amount }} on {{ paid_on }}. "
        "Remaining balance: {{ balance }}. Thank you. " + _SIGN,
    ),
    (Kind.LOAN_DISBURSED, "en"): Text(
        "Your loan of {{ principal }} is disbursed",
        "Dear {{ first_name }}, your loan of {{ principal }} has been disbursed. Your first "
        "installment of {{ first_installment }} is due on {{ first_due_date }}. " + _SIGN,
    ),
    (Kind.LOAN_APPROVED, "en"): Text(
        "Your loan application is approved",
        "Dear {{ first_name }}, your loan application for {{ principal }} has been "
        "approved. " + _SIGN,
    ),
    (Kind.LOAN_REJECTED, "en"): Text(
        "Your loan application",
        "Dear {{ first_name }}, we are sorry: your loan application was not approved. "
        "Please visit your branch for details. " + _SIGN,
    ),
    (Kind.INSTALLMENT_DUE, "sw"): Text(
        "Awamu inadaiwa tarehe {{ due_date }}",
        "Mpendwa {{ first_name }}, awamu yako ya mkopo ya {{ amount_due }} inadaiwa tarehe "
        "{{ due_date }}. Tafadhali lipa kwa wakati. " + _SIGN,
    ),
    (Kind.INSTALLMENT_OVERDUE, "sw"): Text(
        "Awamu imechelewa",
        "Mpendwa {{ first_name }}, awamu yako ya {{ amount_overdue }} imechelewa siku "
        "{{ days_past_due }}. Tafadhali lipa haraka iwezekanavyo ili kuepuka adhabu. " + _SIGN,
    ),
    (Kind.REPAYMENT_RECEIVED, "sw"): Text(
        "Malipo yamepokelewa: {{ amount }}",
        "Mpendwa {{ first_name }}, tumepokea malipo yako ya {{ amount }} tarehe {{ paid_on }}. "
        "Salio lililobaki: {{ balance }}. Asante. " + _SIGN,
    ),
    (Kind.LOAN_DISBURSED, "sw"): Text(
        "Mkopo wako wa {{ principal }} umetolewa",
        "Mpendwa {{ first_name }}, mkopo wako wa {{ principal }} umetolewa. Awamu ya kwanza "
        "ya {{ first_installment }} inadaiwa tarehe {{ first_due_date }}. " + _SIGN,
    ),
    (Kind.LOAN_APPROVED, "sw"): Text(
        "Ombi lako la mkopo limeidhinishwa",
        "Mpendwa {{ first_name }}, ombi lako la mkopo wa {{ principal }} limeidhinishwa. " + _SIGN,
    ),
    (Kind.LOAN_REJECTED, "sw"): Text(
        "Ombi lako la mkopo",
        "Mpendwa {{ first_name }}, samahani: ombi lako la mkopo halikuidhinishwa. Tafadhali "
        "tembelea tawi lako kwa maelezo zaidi. " + _SIGN,
    ),
}

MAX_BODY = 2000
MAX_SUBJECT = 200

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _problems(source: str, field: str, kind: Kind) -> list[tuple[str, str]]:
    """What is wrong with one template text, each naming the line."""
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        return [(field, f"line {exc.lineno}: {exc.message}")]
    offered = set(variables(kind))
    unknown = meta.find_undeclared_variables(tree) - offered
    found = []
    for name in sorted(unknown):
        line = next(n.lineno for n in tree.find_all(nodes.Name) if n.name == name)
        found.append(
            (
                field,
                f"line {line}: unknown variable `{name}`; {kind.value} offers "
                + ", ".join(variables(kind)),
            )
        )
    if found:
        return found
    try:
        _env.from_string(tree).render(sample(kind))
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or 1
        return [(field, f"line {line}: {exc}")]
    return []


def sample(kind: Kind) -> dict[str, str]:
    return {**_SAMPLE_COMMON, **VARIABLES[kind]}


def check(kind: Kind, channel: Channel, subject: str, body: str) -> None:
    """Raises ValidationError naming `body` and/or `subject` (with the line) unless the
    template renders for every message of its kind."""
    problems: list[tuple[str, str]] = []
    if not body.strip():
        problems.append(("body", "must not be empty"))
    elif len(body) > MAX_BODY:
        problems.append(("body", f"must be at most {MAX_BODY} characters"))
    else:
        problems += _problems(body, "body", kind)
    if channel is Channel.EMAIL:
        if not subject.strip():
            problems.append(("subject", "an email needs a subject"))
        elif len(subject) > MAX_SUBJECT or "\n" in subject:
            problems.append(("subject", f"must be one line of at most {MAX_SUBJECT} characters"))
        else:
            problems += _problems(subject, "subject", kind)
    elif subject:
        problems.append(("subject", "an SMS has no subject"))
    if problems:
        raise ValidationError.of_fields(problems, reason="TEMPLATE_INVALID")


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """A template's source compiled once (parsing and compiling it cost several times the
    rendering); the institutions' own texts and the defaults are few."""
    return _env.from_string(source)


def render(source: str, values: Mapping[str, str]) -> str:
    """The text of a saved (checked) template. Collapses the whitespace a multi-line
    template leaves, so an SMS is not charged for it."""
    text = _compiled(source).render(values)
    return " ".join(text.split()) if "\n" not in source else text.strip()
