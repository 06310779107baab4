"""Every resource router, in the order they appear in the OpenAPI document."""

from gateway.borrowers.router import router as borrowers
from gateway.identity.router import router as identity
from gateway.institutions.router import router as institutions

ROUTERS = [identity, institutions, borrowers]
