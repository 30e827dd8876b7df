"""Shared fixtures."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real-data folder ``../shared/data`` beside the repository."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data not found: real-data tests need the shared data folder beside the repo")
    return path
