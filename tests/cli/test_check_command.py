"""``alignops check`` as CI runs it: exit codes, output formats, errors that say where."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import junitparser
import pytest
import xmlschema

from tests.conftest import BRIEF_MESSAGE, Repo, run_alignops
from tests.manifests.test_safe_yaml import ALIAS_BOMB

DATA = Path(__file__).parents[1] / "data"


def test_pass_exits_0(repo: Repo, cli: Any) -> None:
    result = cli("check", "--repo", str(repo.path))
    assert result.exit_code == 0, result.stderr
    assert "PASS" in result.stdout


def test_deny_exits_1_with_table(repo: Repo, cli: Any) -> None:
    repo.function("big", 1024)
    result = cli("check", "--repo", str(repo.path))
    assert result.exit_code == 1
    flat = " ".join(result.stdout.split())
    assert ("DENY" in flat and "ServerlessFunction/big" in flat.replace(" ", "")) or "big" in flat


def test_json_output(repo: Repo, cli: Any) -> None:
    repo.function("big", 1024)
    result = cli("check", "--repo", str(repo.path), "-o", "json")
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["outcome"] == "deny"
    (finding,) = verdict["findings"]
    assert finding["message"] == BRIEF_MESSAGE
    assert (finding["file"], finding["line"]) == ("functions/big.yaml", 1)
    assert verdict["summary"]["denied"] == 1


def test_fail_on_warn(repo: Repo, cli: Any) -> None:
    repo.write(
        "functions/nolabel.yaml",
        "apiVersion: alignops.dev/v1alpha1\nkind: ServerlessFunction\nmetadata:\n  name: nolabel\n"
        "spec:\n  handler: functions.scorer:score\n",
    )
    assert cli("check", "--repo", str(repo.path)).exit_code == 0
    warned = cli("check", "--repo", str(repo.path), "--fail-on-warn", "-o", "json")
    assert warned.exit_code == 1
    (finding,) = json.loads(warned.stdout)["findings"]
    assert finding["severity"] == "warn" and finding["field"] == "metadata.labels"
    assert finding["line"] == 3  # metadata.labels is missing: its parent's line


def waived_and_denied(repo: Repo) -> None:
    repo.function("big", 1024)
    repo.function("huge", 4096)
    repo.write(
        "policies/waivers.yaml",
        "apiVersion: alignops.dev/v1alpha1\nkind: Exception\nmetadata: {name: huge-ok}\nspec:\n"
        "  rules: ['*']\n  resources: [ServerlessFunction/huge]\n  reason: batch job\n"
        "  owner: data@example.com\n  expiresAt: 2099-01-01\n",
    )


def test_sarif_is_valid_sarif_2_1_0(repo: Repo, cli: Any) -> None:
    waived_and_denied(repo)
    result = cli("check", "--repo", str(repo.path), "-o", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    by_resource = {r["properties"]["resource"]: r for r in results}
    big = by_resource["ServerlessFunction/big"]
    assert big["level"] == "error" and "suppressions" not in big
    assert (
        big["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "functions/big.yaml"
    )
    assert big["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    huge = by_resource["ServerlessFunction/huge"]
    assert huge["suppressions"][0]["kind"] == "external"
    assert "batch job" in huge["suppressions"][0]["justification"]


def test_junit_is_valid_junit_xml(repo: Repo, cli: Any, tmp_path: Path) -> None:
    waived_and_denied(repo)
    result = cli("check", "--repo", str(repo.path), "-o", "junit")
    assert result.exit_code == 1
    report = tmp_path / "report.xml"
    report.write_text(result.stdout)
    xmlschema.XMLSchema(str(DATA / "junit.xsd")).validate(str(report))
    xml = junitparser.JUnitXml.fromfile(str(report))
    cases = {case.name: case for suite in xml for case in suite}
    big = cases["ServerlessFunction/big finops.policy.serverless.deny"]
    assert isinstance(big.result[0], junitparser.Failure)
    assert big.result[0].message == BRIEF_MESSAGE
    huge = cases["ServerlessFunction/huge finops.policy.serverless.deny"]
    assert isinstance(huge.result[0], junitparser.Skipped)
    assert cases["ServerlessFunction/scorer"].result == []
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.skipped) == (len(cases), 1, 1)


def test_markdown_is_a_pr_comment(repo: Repo, cli: Any) -> None:
    waived_and_denied(repo)
    result = cli("check", "--repo", str(repo.path), "-o", "markdown")
    assert result.exit_code == 1
    text = result.stdout
    assert text.startswith("❌ **alignops: deny**")
    assert (
        f"| `ServerlessFunction/big` | `finops.policy.serverless.deny` | deny | {BRIEF_MESSAGE} | `functions/big.yaml:1` |"
        in text
    )
    assert "<details><summary>Waived findings</summary>" in text


def test_base_checks_only_changes(repo: Repo, cli: Any) -> None:
    repo.function("old-big", 1024)
    base = repo.commit("old")
    repo.function("new", 128)
    head = repo.commit("new")
    result = cli("check", head, "--base", base, "--repo", str(repo.path), "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["resourcesChecked"] == ["ServerlessFunction/new"]


@pytest.mark.parametrize(
    ("content", "where", "what"),
    [
        (
            b"apiVersion: alignops.dev/v1alpha1\nkind: ServerlessFunction\nmetadata: {name: x\n",
            "functions/bad.yaml:",
            "YAML syntax error",
        ),
        (
            b"apiVersion: alignops.dev/v1alpha1\nkind: ServerlessFunction\nmetadata: {name: x}\nspec:\n  handler: a:b\n  memory: huge\n",
            "functions/bad.yaml:6",
            "spec.memory",
        ),
        (ALIAS_BOMB, "functions/bad.yaml:", "alias bomb"),
    ],
    ids=["malformed-yaml", "schema-error", "alias-bomb"],
)
def test_bad_input_exits_2_with_file_and_line_fast(
    repo: Repo, content: bytes, where: str, what: str
) -> None:
    (repo.path / "functions/bad.yaml").write_bytes(content)
    started = time.perf_counter()
    result = run_alignops("check", cwd=repo.path)
    elapsed = time.perf_counter() - started
    assert result.returncode == 2, result.stdout + result.stderr
    assert where in result.stderr and what in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 30  # a sanity bound for a slow CI machine, not a benchmark


def test_input_error_as_json(repo: Repo, cli: Any) -> None:
    repo.write("functions/bad.yaml", "kind: Nope\napiVersion: x\nmetadata: {name: a}\n")
    result = cli("check", "--repo", str(repo.path), "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["error"] == "ManifestError"
    assert error["problems"][0]["file"] == "functions/bad.yaml"
    assert error["problems"][0]["line"] == 1


def test_bad_rego_exits_2(repo: Repo, cli: Any) -> None:
    repo.write("policies/bad.rego", "package bad\nimport rego.v1\ndeny contains x if {\n")
    result = cli("check", "--repo", str(repo.path))
    assert result.exit_code == 2
    assert "policies/bad.rego:" in result.stderr


def test_unknown_revision_and_environment_exit_2(repo: Repo, cli: Any) -> None:
    assert cli("check", "nope", "--repo", str(repo.path)).exit_code == 2
    result = cli("check", "--env", "moon", "--repo", str(repo.path))
    assert result.exit_code == 2 and "unknown environment 'moon'" in result.stderr


def test_bad_input_changes_nothing(repo: Repo, cli: Any) -> None:
    before = cli("audit", "log", "--repo", str(repo.path), "-o", "json").stdout
    repo.write("functions/bad.yaml", "a: [\n")
    assert cli("check", "--repo", str(repo.path)).exit_code == 2
    assert cli("audit", "log", "--repo", str(repo.path), "-o", "json").stdout == before


def test_unwritable_state_database_is_a_clear_error(repo: Repo) -> None:
    result = run_alignops("check", "--db", "sqlite:////proc/nope/x.db", cwd=repo.path)
    assert result.returncode == 3
    assert "cannot open state database" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bug_exits_3_without_a_traceback(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from alignops.cli import check as check_module
    from alignops.cli import main

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(check_module, "check", broken)
    monkeypatch.setattr(sys, "argv", ["alignops", "check", "--repo", str(repo.path)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "simulated bug" in err and "Traceback" not in err
