"""Helpers shared by the tests (harnesses for LocalStack, proxies and stubs live beside)."""

from __future__ import annotations

import pytest

from scripts.core.console import in_ci


def skip_or_fail(reason: str) -> None:
    """Skip locally with ``reason``; under CI=true fail instead: CI must run every tier."""
    if in_ci():
        pytest.fail(f"CI=true and this test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)
