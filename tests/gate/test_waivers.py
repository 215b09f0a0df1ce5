"""Exceptions waive named rules for named resources until they expire, visibly."""

from __future__ import annotations

from datetime import UTC, datetime

from alignops.gate import check
from tests.conftest import Repo

WAIVER = """\
apiVersion: alignops.dev/v1alpha1
kind: Exception
metadata:
  name: big-scorer-migration
spec:
  rules: [finops.policy.serverless.deny]
  resources: ["ServerlessFunction/big*"]
  reason: migrating to a smaller model by December
  owner: ml-platform@example.com
  expiresAt: "{expires}"
"""
BEFORE = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = datetime(2027, 1, 2, tzinfo=UTC)


def setup(repo: Repo) -> None:
    repo.function("big-scorer", 1024)
    repo.function("other", 1024)
    repo.write("policies/waivers.yaml", WAIVER.format(expires="2027-01-01T00:00:00Z"))


def test_live_waiver_reports_the_finding_as_waived(repo: Repo) -> None:
    setup(repo)
    verdict = check(repo.git.snapshot(None), now=BEFORE)
    waived = {f.resource: f for f in verdict.waived}
    assert set(waived) == {"ServerlessFunction/big-scorer"}
    finding = waived["ServerlessFunction/big-scorer"]
    assert finding.waiver is not None and finding.waiver.owner == "ml-platform@example.com"
    assert finding.to_dict()["status"] == "waived"
    # the unwaived function still denies
    assert [f.resource for f in verdict.denied] == ["ServerlessFunction/other"]


def test_waiver_alone_turns_deny_into_pass(repo: Repo) -> None:
    repo.function("big-scorer", 1024)
    repo.write("policies/waivers.yaml", WAIVER.format(expires="2027-01-01"))
    verdict = check(repo.git.snapshot(None), now=BEFORE)
    assert verdict.outcome == "pass"
    assert len(verdict.waived) == 1


def test_expired_waiver_stops_applying_and_says_so(repo: Repo) -> None:
    setup(repo)
    verdict = check(repo.git.snapshot(None), now=AFTER)
    assert verdict.outcome == "deny"
    denied = {f.resource: f for f in verdict.denied}
    assert set(denied) == {"ServerlessFunction/big-scorer", "ServerlessFunction/other"}
    expired = denied["ServerlessFunction/big-scorer"].waiver
    assert expired is not None and expired.expired and expired.name == "big-scorer-migration"
    (notice,) = [f for f in verdict.warnings if f.rule == "alignops.exception.expired"]
    assert notice.resource == "Exception/big-scorer-migration"
    assert "expired on 2027-01-01" in notice.message
    assert notice.location == "policies/waivers.yaml:10"
