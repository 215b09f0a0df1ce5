"""The docs say what the code does: every YAML example loads, every field is documented,
the CLI reference is the CLI's own."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from alignops.approvals.governance import parse_governance
from alignops.approvals.records import ApprovalRecord, verify_signature
from alignops.manifests import KINDS, load_config, load_manifests
from alignops.manifests.config import RepoConfig

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
EXAMPLES = [
    pytest.param(text, id=f"{path.relative_to(ROOT)}#{i}")
    for path in DOCS
    for i, text in enumerate(BLOCK.findall(path.read_text()))
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_yaml_examples_load(text: str) -> None:
    if text.startswith("# alignops.yaml"):
        load_config("alignops.yaml", text.encode())
    elif "kind: Governance" in text:
        parse_governance(text.encode())
    elif "kind: Approval" in text:
        _verify_documented_approval(text)
    elif "kind:" in text:
        load_manifests("example.yaml", text.encode())
    else:
        yaml.safe_load(text)


def _verify_documented_approval(text: str) -> None:
    """The documented record is real: it verifies against the documented governance file."""
    page = (ROOT / "docs" / "approvals.md").read_text()
    (governance,) = [b for b in BLOCK.findall(page) if "kind: Governance" in b]
    members = {m.name: m.keys for m in parse_governance(governance.encode()).members}
    record = ApprovalRecord.model_validate(yaml.safe_load(text))
    verify_signature(record, members[record.spec.approver])


def _fields(model: type[BaseModel], prefix: str) -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        out.add(key)
        for arg in [info.annotation, *typing.get_args(info.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    out |= _fields(inner, f"{key}.")
    return out


PAGES = {**{k: f"{k.lower()}.md" for k in KINDS}, "config": "config.md"}


@pytest.mark.parametrize("kind", list(PAGES))
def test_every_field_is_documented(kind: str) -> None:
    page = (ROOT / "docs" / "kinds" / PAGES[kind]).read_text()
    if kind == "config":
        fields = {f.split(".")[-1] for f in _fields(RepoConfig, "")}
    else:
        spec = KINDS[kind].model.model_fields["spec"].annotation
        assert isinstance(spec, type)
        fields = {f.split(".")[-1] for f in _fields(spec, "")}
    missing = sorted(f for f in fields if not re.search(rf"[`.]{f}[`.\[ ]", page))
    assert not missing, f"docs/kinds/{PAGES[kind]} does not mention {missing}"


def test_cli_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "alignops.cli.app",
            "utils",
            "docs",
            "--name",
            "alignops",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert (ROOT / "docs" / "cli.md").read_text() == out.read_text(), "run `make docs`"
