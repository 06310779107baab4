"""KYC document rules: what may be stored, what OCR reads off an identity document, where
it disagrees with the profile, and who sets the KYC status."""

from __future__ import annotations

import pytest

from shared.errors import IllegalState, ValidationError
from user_service.adapters.ocr import Reading, parse_tsv
from user_service.domain import documents as rules
from user_service.domain.documents import Word

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20
PDF = b"%PDF-1.7\n" + b"\x00" * 20


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf")],
)
def test_a_file_is_known_by_its_first_bytes(content: bytes, content_type: str) -> None:
    assert rules.sniff_content_type(content) == content_type


@pytest.mark.parametrize(
    "content",
    [
        b"GIF89a" + b"\x00" * 10,
        b"<html><script>alert(1)</script>",
        b"PK\x03\x04 a zip named id.png",
        b"\x00\x89PNG\r\n\x1a\n",  # the signature, but not at the start
        b"%PD",
    ],
)
def test_anything_else_is_refused_as_unsupported_media(content: bytes) -> None:
    with pytest.raises(ValidationError) as refused:
        rules.sniff_content_type(content)
    assert refused.value.reason == "UNSUPPORTED_MEDIA_TYPE"
    assert [f for f, _ in refused.value.field_errors] == ["file"]


def test_size_limit_is_inclusive_and_an_empty_file_is_refused() -> None:
    rules.check_size(100, 100)
    with pytest.raises(ValidationError) as too_large:
        rules.check_size(101, 100)
    assert too_large.value.reason == "DOCUMENT_TOO_LARGE"
    assert too_large.value.metadata == {"max_bytes": "100"}
    with pytest.raises(ValidationError, match="empty"):
        rules.check_size(0, 100)


def test_kinds_and_which_are_read() -> None:
    with pytest.raises(ValidationError, match="kind"):
        rules.check_kind("selfie")
    assert rules.initial_ocr_status("national_id") == "pending"
    assert rules.initial_ocr_status("proof_of_address") == "pending"
    assert rules.initial_ocr_status("photo") == "not_applicable"
    assert rules.initial_ocr_status("consent") == "not_applicable"


def lines(text: str, confidence: float = 90.0) -> list[list[Word]]:
    return [[Word(w, confidence) for w in line.split()] for line in text.splitlines() if line]


KENYAN_CARD = """REPUBLIC OF KENYA
NATIONAL IDENTITY CARD
ID NUMBER: 31415926
SURNAME: ODHIAMBO
GIVEN NAMES: AMINA WANJIRU
DATE OF BIRTH: 30.04.1988
SEX: F
"""


def values(found: dict[str, rules.Found]) -> dict[str, str]:
    return {k: v.value for k, v in found.items()}


def test_fields_after_their_labels_on_the_same_line() -> None:
    assert values(rules.extract_fields(lines(KENYAN_CARD))) == {
        "national_id": "31415926",
        "last_name": "ODHIAMBO",
        "first_name": "AMINA WANJIRU",
        "date_of_birth": "1988-04-30",
    }


def test_fields_under_labels_that_stand_alone() -> None:
    card = """JAMHURI YA KENYA
FULL NAMES
SURNAME
OTIENO
GIVEN NAME
ACHIENG
DATE OF BIRTH
12 MAR 1990
ID NO
K123456789
"""
    assert values(rules.extract_fields(lines(card))) == {
        "last_name": "OTIENO",
        "first_name": "ACHIENG",
        "date_of_birth": "1990-03-12",
        "national_id": "K123456789",
    }


def test_ocr_punctuation_and_spacing_around_labels_do_not_matter() -> None:
    card = "Date of Birth ; 1985-11-02\nSur-name: Nakato\nNIN | CM12345678ABCD\nD.O.B. 01/02/1999"
    assert values(rules.extract_fields(lines(card))) == {
        "date_of_birth": "1985-11-02",  # the first reading wins over the later D.O.B.
        "last_name": "Nakato",
        "national_id": "CM12345678ABCD",
    }


def test_a_value_that_is_not_the_field_is_left_out_not_guessed() -> None:
    card = "SURNAME: 0DH1AMB0\nGIVEN NAMES:\nDATE OF BIRTH: 31.02.1988\nID NUMBER: 12"
    assert rules.extract_fields(lines(card)) == {}


def test_each_field_carries_the_mean_confidence_of_its_words() -> None:
    line = [Word("GIVEN", 95), Word("NAMES:", 95), Word("AMINA", 90), Word("WANJIRU", 71)]
    found = rules.extract_fields([line])
    assert found["first_name"] == rules.Found("AMINA WANJIRU", 80)


TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t1000\t560\t-1\t",
        "4\t1\t1\t2\t1\t0\t44\t179\t373\t27\t-1\t",
        "5\t1\t1\t2\t1\t1\t44\t180\t30\t25\t94.558685\tID",
        "5\t1\t1\t2\t1\t2\t104\t175\t130\t43\t95.073822\tNUMBER:",
        "5\t1\t1\t2\t1\t3\t258\t179\t159\t27\t95.073822\t31415926",
        "5\t1\t1\t2\t2\t1\t42\t249\t176\t27\t91.752800\tSURNAME:",
        "5\t1\t1\t2\t2\t2\t230\t250\t191\t25\t91.752800\tODHIAMBO",
        "5\t1\t1\t2\t2\t3\t230\t250\t191\t25\t-1\t ",
    ]
)


def test_tesseract_tsv_becomes_lines_of_words_with_confidence() -> None:
    reading = Reading(parse_tsv(TSV))
    assert reading.text == "ID NUMBER: 31415926\nSURNAME: ODHIAMBO"
    assert reading.confidence == 94  # (94.56 + 95.07 * 2 + 91.75 * 2) / 5
    assert values(rules.extract_fields(reading.lines)) == {
        "national_id": "31415926",
        "last_name": "ODHIAMBO",
    }
    assert rules.extract_fields(reading.lines)["national_id"].confidence == 95


PROFILE = {
    "first_name": "Amina",
    "last_name": "Odhiambo",
    "national_id": "31415926",
    "date_of_birth": "1988-04-30",
}


def test_fields_that_agree_with_the_profile_are_no_mismatch() -> None:
    read = {
        "national_id": "31-415-926",
        "first_name": "AMINA WANJIRU",
        "last_name": "ODHIÁMBO",
        "date_of_birth": "1988-04-30",
    }
    assert rules.mismatches(read, PROFILE) == []


def test_each_disagreeing_field_is_named() -> None:
    read = {
        "national_id": "31415927",
        "first_name": "HALIMA",
        "last_name": "ODHIAMBO",
        "date_of_birth": "1988-03-30",
    }
    assert rules.mismatches(read, PROFILE) == ["national_id", "first_name", "date_of_birth"]


def test_a_field_not_read_is_no_mismatch_but_an_empty_profile_field_is() -> None:
    assert rules.mismatches({"first_name": ""}, PROFILE) == []
    assert rules.mismatches({"last_name": "ODHIAMBO"}, {**PROFILE, "last_name": ""}) == [
        "last_name"
    ]


def test_kyc_status_is_set_by_a_person_and_reviewed_by_another() -> None:
    rules.check_kyc_change("pending_review", "", "usr_agent", "usr_agent")
    rules.check_kyc_change("verified", "ID checked", "usr_manager", "usr_agent")
    with pytest.raises(IllegalState) as self_review:
        rules.check_kyc_change("verified", "", "usr_agent", "usr_agent")
    assert self_review.value.reason == "KYC_SELF_REVIEW"
    for bad in ("unverified", "approved", ""):
        with pytest.raises(ValidationError, match="status"):
            rules.check_kyc_change(bad, "", "usr_manager", "usr_agent")
    with pytest.raises(ValidationError, match="note"):
        rules.check_kyc_change("rejected", "x" * 501, "usr_manager", "usr_agent")
