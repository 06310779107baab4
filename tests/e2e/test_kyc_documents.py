"""Issue 14, part 4: a borrower's KYC documents through the fleet. Uploaded over HTTP as
multipart, stored in GridFS, read by Tesseract in user_service's background worker, compared
with the profile; never served to another institution or branch; and the borrower's KYC
status set by a reviewer, versioned and audited."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx
import pytest

from tests.support.id_card import identity_card, kenyan_card
from tests.support.staff import PASSWORD, Institution, login, make_institution, register_borrower
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

#: user_service's and the gateway's default MAX_DOCUMENT_BYTES (the fleet does not set it).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def inst(http: httpx.Client, platform_token: str) -> Institution:
    return make_institution(http, platform_token)


def upload(
    http: httpx.Client,
    headers: dict[str, str],
    borrower_id: str,
    content: bytes,
    kind: str = "national_id",
    name: str = "id-front.png",
    declared: str = "image/png",
) -> httpx.Response:
    return http.post(
        f"/v1/borrowers/{borrower_id}/documents",
        headers=headers,
        files={"file": (name, content, declared)},
        data={"kind": kind},
    )


def read(http: httpx.Client, headers: dict[str, str], borrower_id: str, document_id: str) -> Any:
    """The document once its reading has ended."""

    def finished() -> dict[str, Any] | None:
        listed = http.get(f"/v1/borrowers/{borrower_id}/documents", headers=headers)
        assert listed.status_code == 200, listed.text
        [doc] = [d for d in listed.json()["items"] if d["id"] == document_id]
        return doc if doc["ocr"]["status"] != "pending" else None

    return eventually(finished, limit=90)


def test_an_identity_card_is_read_and_compared_with_the_profile(
    http: httpx.Client, inst: Institution
) -> None:
    agent = inst.headers["agent"]
    national_id = f"{secrets.randbelow(10**8):08d}"
    borrower = register_borrower(
        http,
        agent,
        inst.branch_id,
        first_name="Amina",
        last_name="Odhiambo",
        national_id=national_id,
        date_of_birth="1988-04-30",
    )
    # The card's birth date is not the profile's: a typing error at registration, or a card
    # that is not hers.
    card = identity_card(kenyan_card(national_id, "AMINA WANJIRU", "ODHIAMBO", "03.04.1988"))
    stored = upload(http, agent, borrower["id"], card)
    assert stored.status_code == 201, stored.text
    doc = stored.json()
    assert (doc["kind"], doc["content_type"], doc["size"]) == (
        "national_id",
        "image/png",
        len(card),
    )
    assert doc["sha256"] == hashlib.sha256(card).hexdigest()
    assert doc["ocr"]["status"] == "pending"

    done = read(http, agent, borrower["id"], doc["id"])
    assert done["ocr"]["status"] == "done", done["ocr"]
    assert done["ocr"]["fields"] == {
        "national_id": national_id,
        "first_name": "AMINA WANJIRU",
        "last_name": "ODHIAMBO",
        "date_of_birth": "1988-04-03",
    }
    assert done["ocr"]["mismatches"] == ["date_of_birth"]
    assert set(done["ocr"]["field_confidence"]) == set(done["ocr"]["fields"])
    assert all(60 <= c <= 100 for c in done["ocr"]["field_confidence"].values())
    assert "REPUBLIC OF KENYA" in done["ocr"]["text"]

    # Corrected in the profile, the same reading agrees: mismatches are judged as it is now.
    fixed = http.patch(
        f"/v1/borrowers/{borrower['id']}", json={"date_of_birth": "1988-04-03"}, headers=agent
    )
    assert fixed.status_code == 200, fixed.text
    listed = http.get(f"/v1/borrowers/{borrower['id']}/documents", headers=agent).json()
    assert [d["ocr"]["mismatches"] for d in listed["items"]] == [[]]

    # The same bytes again are the same document, not a second copy.
    again = upload(http, inst.headers["branch_manager"], borrower["id"], card, name="copy.png")
    assert again.status_code == 201, again.text
    assert again.json()["id"] == doc["id"]
    listed = http.get(f"/v1/borrowers/{borrower['id']}/documents", headers=agent).json()
    assert [d["id"] for d in listed["items"]] == [doc["id"]]

    content = http.get(f"/v1/documents/{doc['id']}/content", headers=inst.headers["auditor"])
    assert content.status_code == 200
    assert content.headers["content-type"] == "image/png"
    assert content.content == card


def test_a_pdf_is_read_from_its_first_page_and_a_photo_is_not_read(
    http: httpx.Client, inst: Institution
) -> None:
    agent = inst.headers["agent"]
    borrower = register_borrower(http, agent, inst.branch_id, last_name="Kamau")
    lines = ["REPUBLIC OF KENYA", "PASSPORT", "SURNAME: KAMAU", "GIVEN NAMES: ACHIENG"]
    pdf = identity_card(lines, "PDF")
    # Declared as an image: the content decides.
    stored = upload(
        http, agent, borrower["id"], pdf, kind="passport", name="scan.jpg", declared="image/jpeg"
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["content_type"] == "application/pdf"
    done = read(http, agent, borrower["id"], stored.json()["id"])
    assert done["ocr"]["status"] == "done", done["ocr"]
    assert done["ocr"]["fields"]["last_name"] == "KAMAU"
    assert done["ocr"]["fields"]["first_name"] == "ACHIENG"
    assert done["ocr"]["mismatches"] == []

    photo = identity_card(["a portrait"], "JPEG")
    taken = upload(http, agent, borrower["id"], photo, kind="photo", name="me.jpg")
    assert taken.status_code == 201, taken.text
    assert taken.json()["content_type"] == "image/jpeg"
    assert taken.json()["ocr"]["status"] == "not_applicable"


def test_files_that_are_not_documents_or_too_large_are_refused(
    http: httpx.Client, inst: Institution
) -> None:
    agent, borrower_id = inst.headers["agent"], inst.borrower_id

    def documents() -> list[str]:
        listed = http.get(f"/v1/borrowers/{borrower_id}/documents", headers=agent)
        return [d["id"] for d in listed.json()["items"]]

    before = documents()

    disguised = upload(http, agent, borrower_id, b"GIF89a" + secrets.token_bytes(64))
    assert disguised.status_code == 415, disguised.text
    assert disguised.json()["reason"] == "UNSUPPORTED_MEDIA_TYPE"
    assert disguised.json()["errors"][0]["field"] == "file"

    as_json = http.post(
        f"/v1/borrowers/{borrower_id}/documents", headers=agent, json={"kind": "photo"}
    )
    assert as_json.status_code == 415, as_json.text

    png = b"\x89PNG\r\n\x1a\n"
    too_large = upload(http, agent, borrower_id, png + bytes(MAX_DOCUMENT_BYTES + 1 - len(png)))
    assert too_large.status_code == 413, too_large.text
    assert too_large.json()["reason"] == "DOCUMENT_TOO_LARGE"
    far_too_large = upload(http, agent, borrower_id, png + bytes(MAX_DOCUMENT_BYTES + 200_000))
    assert far_too_large.status_code == 413, far_too_large.text

    unknown_kind = upload(http, agent, borrower_id, png + bytes(10), kind="selfie")
    assert unknown_kind.status_code == 422, unknown_kind.text
    assert unknown_kind.json()["errors"][0]["field"] == "kind"
    assert documents() == before


def test_documents_are_not_served_outside_the_institution_or_the_branch(
    http: httpx.Client, inst: Institution, platform_token: str
) -> None:
    card = identity_card(kenyan_card("27182818", "ACHIENG", "ODHIAMBO", "12.04.1986"))
    stored = upload(http, inst.headers["agent"], inst.borrower_id, card)
    assert stored.status_code == 201, stored.text
    document_id = stored.json()["id"]

    other = make_institution(http, platform_token)
    # An agent of another branch of the same institution.
    branch = http.post("/v1/branches", json={"name": "Eldoret"}, headers=inst.headers["admin"])
    assert branch.status_code == 201, branch.text
    email = f"agent2-{secrets.token_hex(3)}@mfi.test"
    agent = {
        "email": email,
        "full_name": "Eldoret Agent",
        "role": "agent",
        "password": PASSWORD,
        "branch_id": branch.json()["id"],
    }
    made = http.post("/v1/users", headers=inst.headers["admin"], json=agent)
    assert made.status_code == 201, made.text
    for outsider in (other.headers["admin"], other.headers["agent"], login(http, email)):
        content = http.get(f"/v1/documents/{document_id}/content", headers=outsider)
        assert content.status_code == 404, content.text
        listed = http.get(f"/v1/borrowers/{inst.borrower_id}/documents", headers=outsider)
        assert listed.status_code == 404, listed.text
        again = upload(http, outsider, inst.borrower_id, card)
        assert again.status_code == 404, again.text
    # The other institution's own upload of the same bytes is its own document.
    theirs = upload(http, other.headers["agent"], other.borrower_id, card)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != document_id
    assert (
        http.get(
            f"/v1/documents/{theirs.json()['id']}/content", headers=inst.headers["admin"]
        ).status_code
        == 404
    )


def test_kyc_status_is_set_by_a_reviewer_versioned_and_audited(
    http: httpx.Client, inst: Institution
) -> None:
    agent, manager = inst.headers["agent"], inst.headers["branch_manager"]
    borrower = register_borrower(http, agent, inst.branch_id)
    assert borrower["kyc_status"] == "unverified"
    url = f"/v1/borrowers/{borrower['id']}/kyc-status"

    assert http.put(url, json={"status": "verified"}, headers=agent).status_code == 403
    asked = http.put(url, json={"status": "pending_review"}, headers=agent)
    assert asked.status_code == 200, asked.text
    assert asked.json()["kyc_status"] == "pending_review"
    unknown = http.put(url, json={"status": "unverified"}, headers=manager)
    assert unknown.status_code == 422, unknown.text
    note = "ID card and profile agree"
    verified = http.put(url, json={"status": "verified", "note": note}, headers=manager)
    assert verified.status_code == 200, verified.text
    assert verified.json()["kyc_status"] == "verified"
    assert http.get(f"/v1/borrowers/{borrower['id']}", headers=agent).json()["kyc_status"] == (
        "verified"
    )
    versions = http.get(f"/v1/borrowers/{borrower['id']}/versions", headers=agent).json()
    assert [v["changes"] for v in versions["items"]] == [
        {"kyc_status": ["unverified", "pending_review"]},
        {"kyc_status": ["pending_review", "verified"], "kyc_note": ["", note]},
    ]

    # Whoever registered a borrower does not review them.
    own = register_borrower(http, manager, inst.branch_id)
    refused = http.put(
        f"/v1/borrowers/{own['id']}/kyc-status", json={"status": "verified"}, headers=manager
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "KYC_SELF_REVIEW"

    manager_id = http.get("/v1/me", headers=manager).json()["id"]

    def audited() -> list[dict[str, Any]]:
        reply = http.get(
            "/v1/audit-log",
            params={"target_kind": "borrowers", "target_id": borrower["id"]},
            headers=inst.headers["auditor"],
        )
        assert reply.status_code == 200, reply.text
        return [e for e in reply.json()["items"] if e["action"] == "borrowers.kyc_status"]

    entries = eventually(lambda: len(audited()) == 2 and audited())
    newest = entries[0]
    assert newest["actor_id"] == manager_id
    assert json.loads(newest["summary_json"]) == {"status": "verified", "note": note}
