from __future__ import annotations

from pathlib import Path

import pytest

from alignops.errors import ManifestError
from alignops.finops.ledger import DIMENSIONS
from alignops.manifests.kinds.budget import GOVERNED_DIMENSIONS
from alignops.manifests.loader import load_manifests


def test_budget_scopes_name_the_ledger_dimensions() -> None:
    assert GOVERNED_DIMENSIONS == DIMENSIONS


def test_a_budget_scoped_by_an_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (
        "apiVersion: alignops.dev/v1alpha1\nkind: Budget\nmetadata:\n  name: b\n"
        "spec:\n  amount: 10\n  scope:\n    tags:\n      teem: risk\n"
    )
    with pytest.raises(ManifestError) as raised:
        load_manifests("finops/budgets.yaml", text.encode())
    assert "finops/budgets.yaml:9: spec.scope.tags.teem" in str(raised.value)
    assert "Input should be 'model', 'team', 'env', 'activity' or 'cost_center'" in str(
        raised.value
    )
