"""A service that cannot serve what its spec says refuses to start (exit 2) and says why."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.runtime.conftest import pickled_model, skops_model, train
from tests.runtime.models import SlowModel


def test_a_digest_mismatch_refuses_to_start_naming_the_file_and_both_digests(
    start: Any, tmp_path: Path
) -> None:
    entry = skops_model(tmp_path / "v1.skops", train(seed=1))
    pinned = hashlib.sha256(b"what was reviewed").hexdigest()
    service = start([{**entry, "sha256": pinned}], wait=False)
    assert service.process.wait(60) == 2
    actual = entry["sha256"]
    assert f"{tmp_path / 'v1.skops'} has sha256 {actual}, but the spec pins {pinned}" in (
        service.stderr()
    )
    assert "refusing to start" in service.stderr()


def test_an_untrusted_pickle_is_refused(start: Any, tmp_path: Path) -> None:
    entry = pickled_model(tmp_path / "slow.pkl", SlowModel(0.1))  # trusted: false
    service = start([entry], wait=False)
    assert service.process.wait(60) == 2
    assert (
        "models[0]: pickle files run code when loaded; set spec.artifact.trusted: true"
        in service.stderr()
    )


def test_a_skops_file_with_an_untrusted_type_is_refused(start: Any, tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    from tests.runtime import models

    odd = FunctionTransformer(models.SlowModel)  # a type nobody listed in trustedTypes
    entry = skops_model(tmp_path / "odd.skops", odd)
    service = start([entry], wait=False)
    assert service.process.wait(60) == 2
    assert "the skops file contains types that are not trusted" in service.stderr()


def test_an_invalid_spec_is_refused_with_the_field(start: Any, tmp_path: Path) -> None:
    entry = skops_model(tmp_path / "v1.skops", train(seed=1), percent=60)
    service = start([entry], wait=False)
    assert service.process.wait(60) == 2
    assert "invalid service spec" in service.stderr()
    assert "models[*].percent must add up to 100" in service.stderr()
