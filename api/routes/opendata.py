"""A whole process as open data: its entries as JSON Lines with the checkpoint
that covers them, and its results as CSV."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["open data"])
