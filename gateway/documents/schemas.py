from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schema import IsoDate, Timestamp

DocumentKind = Literal[
    "national_id", "passport", "proof_of_address", "business_license", "photo", "consent"
]


class OcrFields(BaseModel):
    """The identity fields read off a national ID card or passport; null when not found."""

    national_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: IsoDate | None = None


class Ocr(BaseModel):
    status: Literal["pending", "done", "failed", "not_applicable"] = Field(
        description="`pending` until the background reading ends (seconds); photos and "
        "consent forms are `not_applicable`; proof of address and business licences are "
        "read for their text only"
    )
    fields: OcrFields
    field_confidence: dict[str, int] = Field(
        description="per field found, the reader's mean word confidence, 0 to 100",
        examples=[{"national_id": 95, "last_name": 92}],
    )
    mismatches: list[str] = Field(
        description="the fields found that differ from the borrower's profile as it is now "
        "(a first name agrees when its words are among those read)",
        examples=[["date_of_birth"]],
    )
    text: str = Field(description="the whole text read (a PDF's first page)")
    confidence: int | None = Field(description="mean word confidence of the text, 0 to 100")
    error: str | None = Field(description="why the reading failed")
    complete_time: Timestamp | None


class Document(BaseModel):
    """A KYC document on a borrower's file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "doc_019d2b7e0c1d2e3f4a5b6c7d8e9f",
                    "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "kind": "national_id",
                    "content_type": "image/jpeg",
                    "size": 482113,
                    "sha256": "9f2c1e0b5f6a4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a",
                    "file_name": "id-front.jpg",
                    "ocr": {
                        "status": "done",
                        "fields": {
                            "national_id": "K123456789",
                            "first_name": "ACHIENG",
                            "last_name": "OTIENO",
                            "date_of_birth": "1988-04-30",
                        },
                        "field_confidence": {
                            "national_id": 95,
                            "first_name": 93,
                            "last_name": 92,
                            "date_of_birth": 96,
                        },
                        "mismatches": [],
                        "text": "REPUBLIC OF KENYA\nID NUMBER: K123456789\n...",
                        "confidence": 94,
                        "error": None,
                        "complete_time": "2026-03-31T09:30:03.512Z",
                    },
                    "uploaded_by": "usr_019d2a1244a6b8c0d2e4f6a8b0c2",
                    "create_time": "2026-03-31T09:30:00.123Z",
                }
            ]
        }
    )

    id: str
    borrower_id: str
    kind: DocumentKind
    content_type: Literal["image/jpeg", "image/png", "application/pdf"] = Field(
        description="judged from the file's bytes, not from what the upload declared"
    )
    size: int = Field(description="bytes")
    sha256: str = Field(description="lower-case hex SHA-256 of the bytes")
    file_name: str | None = Field(description="the name it was uploaded with, for display")
    ocr: Ocr
    uploaded_by: str
    create_time: Timestamp
