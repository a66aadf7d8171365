"""Shared fixtures: small specs and random populations."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("NUMBA_NUM_THREADS", "2")


@pytest.fixture
def tmp_run(tmp_path):
    return tmp_path / "run"
