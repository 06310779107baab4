"""Every resource router, in the order they appear in the OpenAPI document."""

from gateway.borrowers.router import router as borrowers
from gateway.identity.router import router as identity
from gateway.institutions.router import router as institutions
from gateway.loans.router import router as loans
from gateway.payments.router import router as payments
from gateway.reports.router import router as reports
from gateway.scorecards.router import router as scorecards

ROUTERS = [identity, institutions, borrowers, loans, payments, scorecards, reports]
