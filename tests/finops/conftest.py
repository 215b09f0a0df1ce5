from __future__ import annotations

from pathlib import Path

import pytest

import alignops.scaffold
from alignops.finops.ledger import Ledger

FOCUS_SAMPLE = Path(alignops.scaffold.__file__).parent / "billing" / "focus-1.0-sample-aws.csv"
"""The FinOps Foundation's FOCUS 1.0 sample export (942 AWS rows, CC BY 4.0)."""


@pytest.fixture
def focus_sample() -> Path:
    return FOCUS_SAMPLE


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """An empty ledger file in a temporary folder."""
    return Ledger(tmp_path / "ledger.duckdb")
