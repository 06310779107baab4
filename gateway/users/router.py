"""TODO-HELPER"""

from fastapi import APIRouter

router = APIRouter()
