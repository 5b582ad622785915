"""Shared pytest fixtures."""
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True, scope="session")
def _log_event_contract():
    """Every test runs with hlmm.log in strict mode: an event or field missing from
    hlmm/log_events.py raises instead of being written, so the documented contract holds."""
    from hlmm import log

    log.set_strict(True)
    yield
