"""Signed approvals: what counts, and every way an approval is rejected with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from alignops.approvals.records import ApprovalRecord, render_record
from alignops.approvals.sshsig import generate_ed25519
from alignops.cli.approve import write_approval
from alignops.gate import Verdict, check
from alignops.scaffold import scaffold
from alignops.source import ConfigRepository

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: scorer
spec:
  version: "1"
  riskLevel: high
  artifact:
    uri: models/scorer.skops
    sha256: "{digest}"
"""
POLICY = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeploymentPolicy
metadata:
  name: two-groups
spec:
  modelName: scorer
  approvalWorkflow:
    groups: [ethics, legal]
    minApprovals: 2
"""
PEOPLE = {"ada": ["ethics"], "bob": ["ethics", "legal"], "lin": ["legal"], "eve": []}


def governance_yaml(keys: dict[str, str], groups: dict[str, list[str]]) -> str:
    members = "".join(
        f'  - name: {n}\n    email: {n}@example.com\n    keys: ["{k}"]\n' for n, k in keys.items()
    )
    listed = "".join(f"  - name: {g}\n    members: [{', '.join(m)}]\n" for g, m in groups.items())
    return f"apiVersion: alignops.dev/v1alpha1\nkind: Governance\nadmins: [ada, lin]\nmembers:\n{members}groups:\n{listed}"


@dataclass
class World:
    path: Path
    repo: ConfigRepository
    keys: dict[str, bytes]
    public: dict[str, str]

    def approve(self, who: str, group: str | None = None) -> str:
        path, _ = write_approval(self.repo, "Model/scorer", self.keys[who], group=group)
        return path

    def verdict(self) -> Verdict:
        return check(self.repo.snapshot(None))

    def approval_finding(self) -> str | None:
        found = [f for f in self.verdict().denied if f.rule.endswith("two-groups.approval")]
        return found[0].message if found else None

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"ethics": [], "legal": []}
        for person, groups in PEOPLE.items():
            for g in groups:
                out[g].append(person)
        return out


@pytest.fixture
def world(tmp_path: Path) -> World:
    path = tmp_path / "repo"
    repo = scaffold(path)
    keys, public = {}, {}
    for person in PEOPLE:
        keys[person], public[person] = generate_ed25519()
    w = World(path, repo, keys, public)
    (path / "models").mkdir()
    (path / "models" / "model.yaml").write_text(MODEL.format(digest="a" * 64))
    (path / "policies" / "two-groups.yaml").write_text(POLICY)
    (path / "governance").mkdir()
    (path / "governance" / "groups.yaml").write_text(governance_yaml(public, w.groups()))
    repo.commit_all("model, policy, governance")
    return w


def test_two_members_of_the_two_groups_satisfy_the_policy(world: World) -> None:
    assert "needs an approval from ethics and legal" in (world.approval_finding() or "")
    world.approve("ada")
    assert "needs an approval from legal, 2 distinct approvers" in (world.approval_finding() or "")
    world.approve("lin")
    assert world.approval_finding() is None


def test_unsigned_approval_is_rejected(world: World) -> None:
    path = world.approve("ada")
    record = ApprovalRecord.model_validate(
        __import__("yaml").safe_load((world.path / path).read_text())
    )
    (world.path / path).write_text(render_record(record.model_copy(update={"signature": None})))
    world.approve("lin")
    assert f"{path}: not signed" in (world.approval_finding() or "")


def test_wrong_key_is_rejected(world: World) -> None:
    # lin signs a record that claims ada approved
    path = world.approve("ada")
    record = ApprovalRecord.model_validate(
        __import__("yaml").safe_load((world.path / path).read_text())
    )
    from alignops.approvals.records import sign_spec

    forged = record.model_copy(update={"signature": sign_spec(record.spec, world.keys["lin"])})
    (world.path / path).write_text(render_record(forged))
    world.approve("lin")
    message = world.approval_finding() or ""
    assert f"{path}: signature: signed with key SHA256:" in message
    assert "not one of the approver's keys" in message


def test_edited_record_breaks_its_signature(world: World) -> None:
    path = world.approve("ada")
    text = (world.path / path).read_text()
    (world.path / path).write_text(
        text.replace("approver: ada", 'approver: ada\n  comment: "edited later"')
    )
    world.approve("lin")
    assert "does not match the message" in (world.approval_finding() or "")


def test_non_member_is_rejected(world: World) -> None:
    world.approve("lin")
    # eve is in the governance file with a key but in no group
    from alignops.approvals.records import ApprovalSpec, record_path, sign_spec
    from alignops.approvals.verify import policy_digest

    snapshot = world.repo.snapshot(None)
    spec = ApprovalSpec.model_validate(
        {
            "resource": "Model/scorer",
            "digests": {
                "model": "a" * 64,
                "policy": policy_digest(snapshot.of_kind("ModelDeploymentPolicy")),
            },
            "approver": "eve",
            "group": "ethics",
            "approvedAt": "2026-11-23T10:00:00+00:00",
        }
    )
    path = record_path(spec)
    (world.path / path).write_text(
        render_record(ApprovalRecord(spec=spec, signature=sign_spec(spec, world.keys["eve"])))
    )
    assert f"{path}: eve is not a member of ethics in the trusted governance file" in (
        world.approval_finding() or ""
    )


def test_approval_of_an_older_model_digest_is_rejected(world: World) -> None:
    old = world.approve("ada")
    world.approve("lin")
    assert world.approval_finding() is None
    (world.path / "models" / "model.yaml").write_text(
        MODEL.format(digest="b" * 64)
    )  # a new model version
    message = world.approval_finding() or ""
    assert f"{old}: approves model digest aaaaaaaaaaaa…, the revision has bbbbbbbbbbbb…" in message


def test_changed_policy_invalidates_approvals(world: World) -> None:
    world.approve("ada")
    world.approve("lin")
    (world.path / "policies" / "two-groups.yaml").write_text(
        POLICY.replace("minApprovals: 2", "minApprovals: 1")
    )
    assert "the policies now have" in (world.approval_finding() or "")


def test_one_person_counts_once(world: World) -> None:
    first = world.approve("bob", "ethics")
    second = world.approve("bob", "legal")
    message = world.approval_finding() or ""
    assert f"{second}: bob is already counted ({first}); one person counts once" in message
    assert "2 distinct approvers" in message


def test_governance_change_approved_by_its_own_author_is_rejected(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = world.groups()
    groups["legal"].append("ada")  # ada adds herself to legal …
    (world.path / "governance" / "groups.yaml").write_text(governance_yaml(world.public, groups))
    monkeypatch.setenv("ALIGNOPS_GIT_NAME", "ada")
    monkeypatch.setenv("ALIGNOPS_GIT_EMAIL", "ada@example.com")
    world.repo.commit_all("add ada to legal")
    write_approval(world.repo, "governance", world.keys["ada"])  # … and approves her own change
    world.approve("ada", "ethics")
    world.repo.commit_all("ada approves")
    verdict = world.verdict()
    governance = [f for f in verdict.denied if f.resource == "governance/groups.yaml"]
    assert len(governance) == 1
    assert (
        "by ada@example.com without 1 approval(s) by an admin of the previous version"
        in governance[0].message
    )
    assert "ada authored the change; their own approval does not count" in governance[0].message
    # ada still counts only as what the previous, trusted version says: ethics
    message = world.approval_finding() or ""
    assert "needs an approval from legal" in message


def test_governance_change_approved_by_another_admin_is_trusted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = world.groups()
    groups["legal"].append("ada")
    (world.path / "governance" / "groups.yaml").write_text(governance_yaml(world.public, groups))
    monkeypatch.setenv("ALIGNOPS_GIT_EMAIL", "ada@example.com")
    world.repo.commit_all("add ada to legal")
    write_approval(world.repo, "governance", world.keys["lin"])  # lin, an admin, approves
    world.repo.commit_all("lin approves the governance change")
    verdict = world.verdict()
    assert not [f for f in verdict.denied if f.resource == "governance/groups.yaml"]
    world.approve("ada", "legal")
    world.approve("bob", "ethics")
    assert world.approval_finding() is None


def test_uncommitted_governance_change_is_untrusted(world: World) -> None:
    groups = world.groups()
    groups["ethics"].append("eve")
    (world.path / "governance" / "groups.yaml").write_text(governance_yaml(world.public, groups))
    verdict = world.verdict()
    (finding,) = [f for f in verdict.denied if f.resource == "governance/groups.yaml"]
    assert "changed in the working tree" in finding.message
