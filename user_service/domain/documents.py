"""KYC document rules: what may be stored, what OCR reads off an identity document, and
where that disagrees with the borrower's profile. Pure: the bytes and the words read come
in, the adapters do the storing and the reading."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.errors import IllegalState, ValidationError

KINDS = ("national_id", "passport", "proof_of_address", "business_license", "photo", "consent")
#: Documents that carry the borrower's identity: OCR looks for the identity fields on them.
IDENTITY_KINDS = frozenset({"national_id", "passport"})
#: Documents whose text is worth reading (kept for the reviewer); photos and signed consent
#: forms hold nothing OCR could check.
READABLE_KINDS = IDENTITY_KINDS | {"proof_of_address", "business_license"}

#: Content types by their magic bytes. The declared type of an upload is not trusted: a
#: browser or a client names whatever the file's extension says.
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)

OCR_FIELDS = ("national_id", "first_name", "last_name", "date_of_birth")


def sniff_content_type(content: bytes) -> str:
    """The content type the bytes are, judged by their signature."""
    for magic, content_type in MAGIC:
        if content.startswith(magic):
            return content_type
    raise ValidationError(
        "the file is not a JPEG, PNG or PDF",
        reason="UNSUPPORTED_MEDIA_TYPE",
        field_errors=[("file", "must be a JPEG, PNG or PDF file (judged by its content)")],
    )


def check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ValidationError.of("file", "is empty")
    if size > max_bytes:
        raise ValidationError(
            f"the file is {size} bytes; at most {max_bytes} are accepted",
            reason="DOCUMENT_TOO_LARGE",
            field_errors=[("file", f"must be at most {max_bytes} bytes")],
            metadata={"max_bytes": str(max_bytes)},
        )


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError.of("kind", f"must be one of {', '.join(KINDS)}")
    return kind


def initial_ocr_status(kind: str) -> str:
    return "pending" if kind in READABLE_KINDS else "not_applicable"


# --- reading an identity document ---------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str
    #: The reader's confidence in the word, 0 to 100.
    confidence: float


Line = Sequence[Word]


@dataclass(frozen=True)
class Found:
    value: str
    confidence: int


#: Labels printed before each field on identity documents (Kenyan, Ugandan, Tanzanian,
#: Nigerian cards and passports' visual zones), as their letters only, so that OCR's stray
#: punctuation and spacing do not matter.
LABELS: dict[str, str] = {
    "IDNUMBER": "national_id",
    "IDNO": "national_id",
    "NATIONALID": "national_id",
    "NATIONALIDNUMBER": "national_id",
    "NATIONALIDNO": "national_id",
    "NIN": "national_id",
    "IDENTITYNUMBER": "national_id",
    "IDENTITYCARDNUMBER": "national_id",
    "PERSONALNUMBER": "national_id",
    "PERSONALNO": "national_id",
    "SURNAME": "last_name",
    "LASTNAME": "last_name",
    "FAMILYNAME": "last_name",
    "GIVENNAMES": "first_name",
    "GIVENNAME": "first_name",
    "FIRSTNAMES": "first_name",
    "FIRSTNAME": "first_name",
    "OTHERNAMES": "first_name",
    "FORENAMES": "first_name",
    "DATEOFBIRTH": "date_of_birth",
    "BIRTHDATE": "date_of_birth",
    "DOB": "date_of_birth",
}
#: The most words a label takes ("NATIONAL ID CARD NUMBER" would be four).
LABEL_WORDS = 4

ID_VALUE = re.compile(r"^[A-Z0-9][A-Z0-9-]{4,24}$")
MONTHS = {
    m: n
    for n, names in enumerate(
        (
            ("JAN", "JANUARY"),
            ("FEB", "FEBRUARY"),
            ("MAR", "MARCH"),
            ("APR", "APRIL"),
            ("MAY",),
            ("JUN", "JUNE"),
            ("JUL", "JULY"),
            ("AUG", "AUGUST"),
            ("SEP", "SEPT", "SEPTEMBER"),
            ("OCT", "OCTOBER"),
            ("NOV", "NOVEMBER"),
            ("DEC", "DECEMBER"),
        ),
        start=1,
    )
    for m in names
}
# Day first: every issuer of the cards above prints dates day, month, year.
NUMERIC_DATE = re.compile(r"(\d{1,2})[./ -](\d{1,2})[./ -](\d{4})")
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
WORDED_DATE = re.compile(r"(\d{1,2})[ ./-]?([A-Z]{3,9})[ ./-]?(\d{4})")
NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'-]*(?:['-][^\W\d_]+)*$")


def _letters(text: str) -> str:
    return re.sub(r"[^A-Z]", "", text.upper())


def _label_at(words: Line) -> tuple[str, int] | None:
    """The field whose label the line starts with, and how many words the label takes (the
    longest label wins: "NATIONAL ID NUMBER" over "NATIONAL ID")."""
    joined = ""
    best = None
    for count, word in enumerate(words[:LABEL_WORDS], start=1):
        letters = _letters(word.text)
        if not letters:  # a number or a separator: the label has ended
            break
        joined += letters
        if joined in LABELS:
            best = (LABELS[joined], count)
        if not any(label.startswith(joined) for label in LABELS):
            break
    return best


def _confidence(words: Sequence[Word]) -> int:
    return round(sum(w.confidence for w in words) / len(words)) if words else 0


def _value_words(words: Line) -> list[Word]:
    """The value's words, without the separator OCR read between label and value."""
    out = [w for w in words if w.text.strip(":;.,|")]
    if out and out[0].text[0] in ":;|":
        out[0] = Word(out[0].text.lstrip(":;|"), out[0].confidence)
    return out


def _parse_date(text: str) -> str | None:
    compact = text.upper().replace(",", " ").strip()
    for pattern, order in ((ISO_DATE, "ymd"), (NUMERIC_DATE, "dmy"), (WORDED_DATE, "dMy")):
        match = pattern.search(compact)
        if not match:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        month = MONTHS.get(parts["M"]) if "M" in parts else int(parts["m"])
        if month is None:
            continue
        try:
            return date(int(parts["y"]), month, int(parts["d"])).isoformat()
        except ValueError:
            continue
    return None


def _interpret(field: str, words: list[Word]) -> Found | None:
    if not words:
        return None
    text = " ".join(w.text for w in words)
    if field == "national_id":
        value = re.sub(r"[^A-Z0-9-]", "", words[0].text.upper())
        return Found(value, _confidence(words[:1])) if ID_VALUE.match(value) else None
    if field == "date_of_birth":
        parsed = _parse_date(text)
        return Found(parsed, _confidence(words)) if parsed else None
    names = [w for w in words if NAME_WORD.match(w.text)]
    if not names or len(names) != len(words):
        return None
    return Found(" ".join(w.text for w in names), _confidence(names))


def extract_fields(lines: Sequence[Line]) -> dict[str, Found]:
    """The identity fields of a document's OCR lines: a field is the text after its label,
    on the same line or (when the label stands alone, as on Kenyan cards) on the next one.
    The first reading of each field wins; a value that does not look like the field (a
    name with digits, a date that is no date) is left out rather than guessed."""
    found: dict[str, Found] = {}
    for index, line in enumerate(lines):
        label = _label_at(line)
        if label is None:
            continue
        field, count = label
        if field in found:
            continue
        value = _value_words(line[count:])
        if not value and index + 1 < len(lines) and _label_at(lines[index + 1]) is None:
            value = _value_words(lines[index + 1])
        result = _interpret(field, value)
        if result is not None:
            found[field] = result
    return found


# --- comparing with the profile -----------------------------------------------------------


def _fold(text: str) -> list[str]:
    """A name as comparable words: no accents, no case, no punctuation."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    return re.findall(r"[^\W\d_]+", plain)


def _id_key(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def mismatches(fields: Mapping[str, str], profile: Mapping[str, Any]) -> list[str]:
    """The fields read that disagree with the profile. A name agrees when every word of the
    shorter of the two is in the other (a card printing "AMINA WANJIRU" agrees with a profile
    whose first name is "Amina"); an ID when its letters and digits are the same; a date when
    it is the same day. A field not read is no mismatch."""
    out = []
    for field in OCR_FIELDS:
        read = fields.get(field) or ""
        if not read:
            continue
        known = str(profile.get(field) or "")
        if field in ("first_name", "last_name"):
            a, b = _fold(read), _fold(known)
            shorter, longer = sorted((a, b), key=len)
            same = bool(shorter) and set(shorter) <= set(longer)
        elif field == "national_id":
            same = _id_key(read) == _id_key(known)
        else:
            same = read == known
        if not same:
            out.append(field)
    return out


# --- KYC status ---------------------------------------------------------------------------

KYC_STATUSES = ("unverified", "pending_review", "verified", "rejected")
#: The statuses only a reviewer sets.
REVIEW_OUTCOMES = frozenset({"verified", "rejected"})
NOTE_LENGTH = 500


def check_kyc_change(status: str, note: str, reviewer_id: str, registered_by: str) -> None:
    """A status a person may set, with a sensible note; a review outcome is not set by the
    staff member who registered the borrower (maker and checker are two people)."""
    if status not in KYC_STATUSES or status == "unverified":
        raise ValidationError.of("status", "must be pending_review, verified or rejected")
    if len(note) > NOTE_LENGTH:
        raise ValidationError.of("note", f"at most {NOTE_LENGTH} characters")
    if status in REVIEW_OUTCOMES and reviewer_id == registered_by:
        raise IllegalState(
            "the borrower's KYC is reviewed by someone other than who registered them",
            reason="KYC_SELF_REVIEW",
        )
