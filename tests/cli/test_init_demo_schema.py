"""``alignops init``, ``alignops demo``, ``alignops schema``, ``alignops version``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2

from alignops import __version__
from tests.conftest import BRIEF_MESSAGE, run_alignops


def test_init_makes_a_committed_repository(tmp_path: Path, cli: Any) -> None:
    target = tmp_path / "new"
    result = cli("init", str(target))
    assert result.exit_code == 0, result.stderr
    repo = pygit2.Repository(str(target))
    head = repo[repo.head.target]
    assert head.message == "Initial alignops config repository"
    index = pygit2.Index()
    index.read_tree(head.tree)
    files = {e.path for e in index}
    assert {
        "alignops.yaml",
        ".gitignore",
        "policies/serverless.rego",
        "policies/high-risk-model-policy.yaml",
        "functions/scorer.yaml",
    } <= files
    assert not repo.status()  # nothing left uncommitted
    assert cli("check", "--repo", str(target)).exit_code == 0


def test_init_json_output(tmp_path: Path, cli: Any) -> None:
    result = cli("init", str(tmp_path / "j"), "-o", "json")
    assert result.exit_code == 0
    made = json.loads(result.stdout)
    assert made["branch"] == "main" and len(made["commit"]) == 40
    assert made["commit"] == str(pygit2.Repository(str(tmp_path / "j")).head.target)


def test_init_refuses_a_non_empty_folder(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = cli("init", str(tmp_path / "x"))
    assert result.exit_code == 2 and "not an empty folder" in result.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "x" / ".git").exists()


def test_demo_shows_a_pass_and_a_deny(tmp_path: Path) -> None:
    result = run_alignops("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "PASS" in out and "DENY" in out
    assert "Serverless function memory limit exceeds 512MB" in out
    # Part 4: the replayed years drift, Slack gets one message per drifting window and
    # one resolve notice, and a retraining request is committed on a branch.
    assert "2017 69,635 people" in out and "max PSI 0.0090 (ANC) · alert" in out
    assert "Slack received 3 messages: 2 while the drift lasted" in out
    assert "branch alignops/retrain/employment-fair-" in out
    assert "demo complete" in out
    # running it again replaces its own folder (not the whole demo again: two minutes)
    from alignops.cli.demo import _prepare

    _prepare(tmp_path / "demo")
    assert not (tmp_path / "demo" / "acs-employment").exists()


def test_demo_will_not_delete_a_folder_it_did_not_make(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "precious").mkdir()
    result = cli("demo", "--dir", str(tmp_path / "precious"))
    assert result.exit_code == 2 and (tmp_path / "precious").exists()


def test_schema_command(tmp_path: Path, cli: Any) -> None:
    one = json.loads(cli("schema", "ServerlessFunction").stdout)
    assert one["properties"]["kind"] == {"const": "ServerlessFunction", "title": "Kind"}
    assert "memory" in json.dumps(one)
    written = cli("schema", "--out", str(tmp_path / "schemas"))
    assert written.exit_code == 0
    assert (tmp_path / "schemas" / "manifest.json").exists()
    assert (tmp_path / "schemas" / "Exception.json").exists()
    assert cli("schema", "Nope").exit_code == 2


def test_version(cli: Any) -> None:
    assert cli("version").stdout.strip() == __version__


def test_brief_message_constant_matches_template() -> None:
    template = (
        Path(__file__).parents[2] / "src/alignops/scaffold/templates/basic/policies/serverless.rego"
    )
    assert BRIEF_MESSAGE in template.read_text()
