"""KYC documents: a borrower's files (`/v1/borrowers/{id}/documents`) and their bytes
(`/v1/documents/{id}/content`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from gateway.convert import from_proto
from gateway.deps import Stubs, allowed
from gateway.documents.schemas import Document, DocumentKind
from gateway.schema import Page, PageSize, PageToken
from kopa.user.v1 import documents_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["documents"])

#: Where the gateway takes a multipart body instead of JSON (gateway.app.EdgeMiddleware).
UPLOAD_PATH = "/v1/borrowers/{borrower_id}/documents"


def document(message: documents_pb2.Document) -> Document:
    return from_proto(Document, message)


@router.post(
    UPLOAD_PATH,
    status_code=201,
    summary="Upload a KYC document",
    dependencies=[allowed(P.BORROWERS_UPDATE)],
)
async def upload_document(
    borrower_id: str,
    file: Annotated[UploadFile, File(description="the document: a JPEG, PNG or PDF file")],
    kind: Annotated[DocumentKind, Form(description="what the document is")],
    stubs: Stubs,
) -> Document:
    """Stores a document on the borrower's file, as `multipart/form-data` with the parts
    `file` and `kind`. The content type is judged from the file's bytes: anything but JPEG,
    PNG or PDF is a 415 (`UNSUPPORTED_MEDIA_TYPE`), a file over the size limit (10 MiB
    unless `MAX_DOCUMENT_BYTES` says otherwise) a 413 (`DOCUMENT_TOO_LARGE`). The same bytes
    uploaded again for the same borrower return the document already on file instead of a
    copy. National ID cards and passports are then read by OCR in the background (`ocr.status`
    `pending`, then `done` within seconds: list the documents to see the fields read and
    where they disagree with the profile)."""
    reply = await stubs.documents.UploadDocument(
        documents_pb2.UploadDocumentRequest(
            borrower_id=borrower_id,
            kind=documents_pb2.DocumentKind.Value(f"DOCUMENT_KIND_{kind.upper()}"),
            file=await file.read(),
            file_name=file.filename or "",
        )
    )
    return document(reply.document)


@router.get(
    UPLOAD_PATH,
    summary="A borrower's KYC documents",
    dependencies=[allowed(P.BORROWERS_READ)],
)
async def list_documents(
    borrower_id: str, stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Document]:
    """The borrower's documents, oldest first, each with its OCR reading: the text, the
    identity fields found with their confidence, and the fields that differ from the
    borrower's profile as it is now."""
    reply = await stubs.documents.ListDocuments(
        documents_pb2.ListDocumentsRequest(
            borrower_id=borrower_id, page_size=page_size, page_token=page_token
        )
    )
    return Page[Document](
        items=[document(d) for d in reply.documents], next_page_token=reply.next_page_token
    )


@router.get(
    "/v1/documents/{document_id}/content",
    summary="A KYC document's file",
    dependencies=[allowed(P.BORROWERS_READ)],
    response_class=Response,
    responses={
        200: {
            "description": "the file, with its content type",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "application/pdf")
            },
        }
    },
)
async def document_content(document_id: str, stubs: Stubs) -> Response:
    """The document's bytes, with the content type judged when it was stored. Another
    institution's document, or for branch staff one of another branch's borrower, is a
    404."""
    reply = await stubs.documents.GetDocumentContent(
        documents_pb2.GetDocumentContentRequest(document_id=document_id)
    )
    return Response(
        reply.content,
        media_type=reply.content_type,
        headers={
            # The bytes are a client's: never let a browser run them as our origin's page.
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
            "Cache-Control": "private, no-store",
        },
    )
