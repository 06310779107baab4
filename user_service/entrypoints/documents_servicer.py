"""The DocumentService servicer: KYC documents and the borrower's KYC status."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from kopa.user.v1 import documents_pb2, documents_pb2_grpc, kyc_pb2
from shared.protos import timestamp as ts
from user_service.entrypoints.mapping import borrower_to_proto
from user_service.service_layer.documents import DocumentHandlers, Listed
from user_service.service_layer.handlers import UserHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext


def _word(enum: Any, number: int, prefix: str) -> str:
    """`DOCUMENT_KIND_NATIONAL_ID` -> `national_id`; "" for the zero value."""
    return enum.Name(number).removeprefix(prefix).lower() if number else ""


def document_to_proto(listed: Listed) -> documents_pb2.Document:
    doc, ocr = listed.doc, listed.doc["ocr"]
    return documents_pb2.Document(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        borrower_id=doc["borrower_id"],
        kind=documents_pb2.DocumentKind.Value(f"DOCUMENT_KIND_{doc['kind'].upper()}"),
        content_type=doc["content_type"],
        size=doc["size"],
        sha256=doc["sha256"],
        file_name=doc.get("file_name", ""),
        ocr=documents_pb2.OcrResult(
            status=documents_pb2.OcrStatus.Value(f"OCR_STATUS_{ocr['status'].upper()}"),
            fields=documents_pb2.OcrFields(**(ocr.get("fields") or {})),
            field_confidence=ocr.get("field_confidence") or {},
            mismatches=listed.mismatches,
            text=ocr.get("text", ""),
            confidence=ocr.get("confidence", 0),
            error=ocr.get("error", ""),
            complete_time=ts(ocr.get("complete_time")),
        ),
        uploaded_by=doc.get("uploaded_by", ""),
        create_time=ts(doc.get("create_time")),
    )


class DocumentServicer(documents_pb2_grpc.DocumentServiceServicer):
    def __init__(self, documents: DocumentHandlers, users: UserHandlers) -> None:
        self.documents = documents
        self.users = users

    async def UploadDocument(
        self, request: documents_pb2.UploadDocumentRequest, context: Ctx
    ) -> documents_pb2.UploadDocumentResponse:
        listed, created = await self.documents.upload(
            request.borrower_id,
            _word(documents_pb2.DocumentKind, request.kind, "DOCUMENT_KIND_"),
            request.file,
            request.file_name,
        )
        return documents_pb2.UploadDocumentResponse(
            document=document_to_proto(listed), created=created
        )

    async def ListDocuments(
        self, request: documents_pb2.ListDocumentsRequest, context: Ctx
    ) -> documents_pb2.ListDocumentsResponse:
        listed, token = await self.documents.list(
            request.borrower_id, request.page_size, request.page_token
        )
        return documents_pb2.ListDocumentsResponse(
            documents=[document_to_proto(d) for d in listed], next_page_token=token
        )

    async def GetDocumentContent(
        self, request: documents_pb2.GetDocumentContentRequest, context: Ctx
    ) -> documents_pb2.GetDocumentContentResponse:
        doc, content = await self.documents.content(request.document_id)
        return documents_pb2.GetDocumentContentResponse(
            content=content, content_type=doc["content_type"], file_name=doc.get("file_name", "")
        )

    async def SetKycStatus(
        self, request: documents_pb2.SetKycStatusRequest, context: Ctx
    ) -> documents_pb2.SetKycStatusResponse:
        doc = await self.users.set_kyc_status(
            request.borrower_id,
            _word(kyc_pb2.KycStatus, request.status, "KYC_STATUS_"),
            request.note,
        )
        return documents_pb2.SetKycStatusResponse(borrower=borrower_to_proto(doc))
