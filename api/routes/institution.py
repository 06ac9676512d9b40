"""Requests an institution signs with its Ed25519 key: the operations that are
not log entries (creating a process's issuer key, importing its eligibility
roll)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/institution", tags=["institutions"])
