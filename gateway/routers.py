"""Every resource router, one folder per URL prefix, in the order of the OpenAPI document."""

from gateway.alerts.router import router as alerts
from gateway.audit_log.router import router as audit_log
from gateway.borrowers.router import router as borrowers
from gateway.branches.router import router as branches
from gateway.centers.router import router as centers
from gateway.collection_sheets.router import router as collection_sheets
from gateway.documents.router import router as documents
from gateway.events.router import router as events
from gateway.group_loans.router import router as group_loans
from gateway.groups.router import router as groups
from gateway.identity.router import router as identity
from gateway.institutions.router import router as institutions
from gateway.jobs.router import router as jobs
from gateway.ledger.router import router as ledger
from gateway.loan_products.router import router as loan_products
from gateway.loan_securities.router import router as loan_securities
from gateway.loans.router import router as loans
from gateway.mobile_money.router import router as mobile_money
from gateway.notifications.router import router as notifications
from gateway.repayments.router import router as repayments
from gateway.reports.router import router as reports
from gateway.scorecards.router import router as scorecards
from gateway.suspense.router import router as suspense
from gateway.users.router import router as users
from gateway.webhooks.router import router as webhooks

ROUTERS = [
    identity,
    users,
    audit_log,
    institutions,
    branches,
    borrowers,
    centers,
    documents,
    groups,
    loan_products,
    loans,
    loan_securities,
    group_loans,
    repayments,
    collection_sheets,
    suspense,
    ledger,
    mobile_money,
    scorecards,
    reports,
    jobs,
    notifications,
    webhooks,
    alerts,
    events,
]
