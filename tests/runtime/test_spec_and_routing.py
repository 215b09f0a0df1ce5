"""The service spec as documented, and the canary router, in process."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from alignops.errors import InputError
from alignops.runtime import ServiceSpec, load_spec
from alignops.runtime.routing import Router

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_spec_is_valid(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "runtime.md").read_text()
    (example,) = [b for b in re.findall(r"```json\n(.*?)```", page, re.S) if '"deployment"' in b and '"models"' in b and '"port"' in b]  # fmt: skip
    (tmp_path / "spec.json").write_text(example)
    spec = load_spec(tmp_path / "spec.json")
    assert [(m.version, m.percent) for m in spec.models] == [("2.1.0", 90), ("2.2.0", 10)]
    assert spec.telemetry.flush_seconds == 5.0
    assert spec.started_at is not None


def _spec(**changes: object) -> dict[str, object]:
    model = {"name": "m", "version": "1", "path": "/m.skops", "sha256": "a" * 64}
    base: dict[str, object] = {
        "deployment": "d",
        "environment": "dev",
        "revision": "r",
        "port": 8000,
        "memoryMb": 256,
        "telemetry": {"directory": "/tmp/t"},
        "models": [model],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models": []}, "models: List should have at least 1 item"),
        (
            {
                "models": [
                    {"name": "m", "version": "1", "path": "/m", "sha256": "a" * 64, "percent": 50}
                ]
            },
            "models[*].percent must add up to 100",
        ),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"memoryMb": 4}, "memoryMb: Input should be greater than or equal to 16"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_spec_names_the_field(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    import json

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(**changes)))
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: invalid service spec: ")
    assert message in str(caught.value)


def test_a_model_version_appears_once() -> None:
    model = {"name": "m", "version": "1", "path": "/m", "sha256": "a" * 64, "percent": 50}
    with pytest.raises(ValueError, match="each model name and version may appear once"):
        ServiceSpec.model_validate(_spec(models=[model, model]))


@dataclass(frozen=True)
class _Version:
    name: str
    percent: int


def test_router_is_deterministic_per_request_id_and_weighted() -> None:
    router = Router([_Version("a", 90), _Version("b", 10)])
    picks = [router.choose(f"req-{i}").name for i in range(20_000)]
    assert picks == [router.choose(f"req-{i}").name for i in range(20_000)]
    share = picks.count("b") / len(picks)
    assert 0.09 < share < 0.11  # sequential ids spread like random ones: sd 0.002


def test_router_skips_versions_at_zero_percent() -> None:
    router = Router([_Version("a", 0), _Version("b", 100)])
    assert {router.choose(str(i)).name for i in range(100)} == {"b"}
    with pytest.raises(ValueError, match="add up to 100"):
        Router([_Version("a", 60)])
