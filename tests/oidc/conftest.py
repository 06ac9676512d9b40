"""Fixtures for the tests of the test OpenID Provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.oidc_provider import ensure_installed


@pytest.fixture(scope="session")
def oidc_installed() -> Path:
    """oidc-provider's ``node_modules``, installed once (``npm ci``) if missing.
    The provider itself is started by each test module with ``start_provider``:
    its clients depend on the ports the tests choose."""
    return ensure_installed()
