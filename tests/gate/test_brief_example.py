"""Acceptance: the brief's Rego example, as pasted (v0) and in v1 form, in a repo made
by ``alignops init``: 1024 MB is denied with exactly its message, 256 MB passes."""

from __future__ import annotations

import pytest

from alignops.gate import check
from tests.conftest import BRIEF_MESSAGE, Repo

V1_FORM = """package finops.policy.serverless

deny contains msg if {
\tinput.kind == "ServerlessFunction"
\tinput.spec.memory > 512
\tmsg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
"""


@pytest.fixture(params=["v0 as pasted", "v1 form"])
def flavoured(request: pytest.FixtureRequest, repo: Repo) -> Repo:
    if request.param == "v1 form":
        repo.write("policies/serverless.rego", V1_FORM)
        repo.commit("policy in Rego v1")
    return repo


def test_1024_is_denied_with_the_exact_message(flavoured: Repo) -> None:
    flavoured.function("big", 1024)
    verdict = check(flavoured.git.snapshot(flavoured.commit("big function")))
    assert verdict.outcome == "deny"
    (finding,) = verdict.denied
    assert finding.message == BRIEF_MESSAGE
    assert finding.resource == "ServerlessFunction/big"
    assert finding.rule == "finops.policy.serverless.deny"
    assert finding.location == "functions/big.yaml:1"


def test_256_passes(flavoured: Repo) -> None:
    flavoured.function("small", 256)
    verdict = check(flavoured.git.snapshot(flavoured.commit("small function")))
    assert verdict.outcome == "pass"
    assert not verdict.findings
    assert "ServerlessFunction/small" in verdict.resources_checked


def test_template_policy_file_is_the_brief_verbatim(repo: Repo) -> None:
    text = (repo.path / "policies/serverless.rego").read_text()
    assert text == (
        "package finops.policy.serverless\n\n"
        "deny[msg] {\n"
        'input.kind == "ServerlessFunction"\n'
        "input.spec.memory > 512\n"
        f'msg := "{BRIEF_MESSAGE}"\n'
        "}\n"
    )
