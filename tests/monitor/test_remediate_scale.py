"""A scale change is one commit on the environment's branch that changes minScale and
maxScale of the deployment and not one other byte; a concurrent change is refused."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from alignops.errors import ManifestError
from alignops.monitor.remediate import RemediationOutcome, remediate
from alignops.monitor.remediate_scale import set_scaling
from alignops.reconcile.providers import ProviderContext
from tests.monitor.remediation_world import (
    ALERT,
    facts,
    remediation,
    staging,
)
from tests.reconcile.conftest import (
    Delivery,
)

FILE = "deployments/scorer-api.yaml"

COMMENTED = """\
# The scorer behind the checkout page.
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
  labels: {team: risk}   # owners: the risk team
spec:
  model: scorer-v1
  environment: staging
  memory: 512            # measured peak: 310 MB
  scaling:
    minScale: 0          # cold starts are fine at night
    concurrency: 4
  timeoutSeconds: 5
"""


def commit_of(delivery: Delivery, revision: str) -> pygit2.Commit:
    found = delivery.repo.git.resolve(revision)
    assert isinstance(found, pygit2.Commit)
    return found


def commented(delivery: Delivery) -> str:
    delivery.repo.write(FILE, COMMENTED)
    return delivery.repo.commit("scorer-api: comments, and scale to zero at night")


def scale(
    delivery: Delivery, revision: str, apply: bool = True, **values: int
) -> RemediationOutcome:
    return remediate(
        facts(revision, metric="cold_start_rate"),
        remediation("scale", automatic=True, scale=values),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=apply,
    )


def test_the_commit_changes_only_those_values_and_keeps_comments(delivery: Delivery) -> None:
    tip = commented(delivery)

    outcome = remediate(
        facts(tip, metric="cold_start_rate"),
        remediation("scale", automatic=True, scale={"minScale": 2, "maxScale": 3}),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
    )

    assert (outcome.action, outcome.status, outcome.branch) == ("scale", "done", "main")
    head = delivery.repo.git.head()
    assert outcome.commit == head and outcome.files == (FILE,)
    commit = commit_of(delivery, head)
    assert [str(p) for p in commit.parent_ids] == [tip]
    expected = COMMENTED.replace(
        "    minScale: 0          # cold starts are fine at night\n    concurrency: 4\n",
        "    minScale: 2          # cold starts are fine at night\n    concurrency: 4\n"
        "    maxScale: 3\n",
    )
    after, before = delivery.snapshot(head), delivery.snapshot(tip)
    assert after.read(FILE).decode() == expected
    assert set(after.files) == set(before.files)
    assert [p for p in after.files if after.files[p] != before.files[p]] == [FILE]
    scaling = after.resources["ModelDeployment/scorer-api"].model.spec.scaling
    assert (scaling.min_scale, scaling.max_scale) == (2, 3)
    # The branch is checked out: the working tree follows, nothing is left uncommitted.
    assert (delivery.repo.path / FILE).read_text() == expected
    assert delivery.repo.git.raw.status() == {}

    message = commit.message
    assert message.startswith(
        "Scale ModelDeployment/scorer-api in staging: minScale 0 → 2, maxScale 1 → 3\n"
    )
    assert f"{FILE}: spec.scaling.minScale 0 → 2, spec.scaling.maxScale 1 → 3" in message
    assert message.endswith(f"\n\nAlignops-Alert: {ALERT}\nAlignops-Remediation: scale\n")
    (done,) = delivery.audit.records(action="remediation.done")
    assert (done.data["alertId"], done.data["action"], done.data["automatic"]) == (
        ALERT,
        "scale",
        True,
    )
    assert (done.data["branch"], done.data["commit"]) == ("main", head)


def test_a_concurrent_change_is_refused_not_overwritten(delivery: Delivery) -> None:
    tip = commented(delivery)
    theirs: list[str] = []

    def meanwhile(line: str) -> None:
        """Someone commits between the remediation reading the tip and committing."""
        if "committing" in line and not theirs:
            delivery.repo.write(FILE, COMMENTED.replace("memory: 512", "memory: 640"))
            theirs.append(delivery.repo.commit("more memory, by hand"))

    outcome = remediate(
        facts(tip),
        remediation("scale", automatic=True, scale={"minScale": 1}),
        repository=delivery.repo.git,
        environment=staging(delivery),
        audit=delivery.audit,
        apply=True,
        context=ProviderContext(delivery.state_dir, delivery.db, progress=meanwhile),
    )

    assert len(theirs) == 1
    assert (outcome.status, outcome.commit) == ("failed", None)
    assert f"branch 'main' moved from {tip[:12]} to {theirs[0][:12]}" in outcome.message
    assert "nothing was committed" in outcome.message
    assert delivery.repo.git.head() == theirs[0]
    text = delivery.snapshot(theirs[0]).read(FILE).decode()
    assert "memory: 640" in text and "minScale: 0" in text  # their change, not overwritten
    (failed,) = delivery.audit.records(action="remediation.failed")
    assert (failed.data["action"], failed.data["commit"]) == ("scale", None)


def test_values_the_kind_rejects_are_refused_with_file_line_and_field(
    delivery: Delivery,
) -> None:
    delivery.repo.write(
        FILE,
        COMMENTED.replace("minScale: 0 ", "minScale: 2 ").replace(
            "    concurrency: 4\n", "    maxScale: 4\n    concurrency: 4\n"
        ),
    )
    tip = delivery.repo.commit("two warm instances, up to four")

    outcome = scale(delivery, tip, maxScale=1)

    assert outcome.status == "failed"
    assert f"{FILE}:11: spec.scaling: minScale must not exceed maxScale" in outcome.message
    assert delivery.repo.git.head() == tip
    assert delivery.repo.git.raw.status() == {}


def test_the_same_values_are_skipped_and_a_proposal_writes_nothing(delivery: Delivery) -> None:
    tip = commented(delivery)

    same = scale(delivery, tip, minScale=0, maxScale=1)
    proposed = scale(delivery, tip, apply=False, minScale=1, maxScale=2)

    assert same.status == "skipped"
    assert "already has minScale 0 and maxScale 1" in same.message
    assert proposed.status == "proposed"
    assert proposed.message == (
        "proposed: set minScale 1 and maxScale 2 of scorer-api with a commit on main; "
        f"run `alignops alerts remediate {ALERT}` to do it"
    )
    assert delivery.repo.git.head() == tip
    assert [r.action for r in delivery.audit.records(action="remediation.*")] == [
        "remediation.proposed",
        "remediation.skipped",
    ]


def test_a_deployment_not_declared_at_the_tip_is_skipped(delivery: Delivery) -> None:
    tip = delivery.repo.git.head()
    (delivery.repo.path / FILE).unlink()
    gone = delivery.repo.commit("retire scorer-api")

    outcome = scale(delivery, tip, minScale=1)

    assert outcome.status == "skipped"
    assert f"not deployed to staging at the tip of main ({gone[:12]})" in outcome.message
    assert delivery.repo.git.head() == gone


# -- the edit itself ----------------------------------------------------------------------

HEAD = "apiVersion: alignops.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n  name: api\n"


@pytest.mark.parametrize(
    ("spec", "values", "edited"),
    [
        pytest.param(
            "spec:\n    model: m\n    environment: staging   # where\n# the end\n",
            {"minScale": 1, "maxScale": 2},
            "spec:\n    model: m\n    environment: staging   # where\n"
            "    scaling:\n        minScale: 1\n        maxScale: 2\n# the end\n",
            id="no scaling: added with the file's indentation, before trailing comments",
        ),
        pytest.param(
            "spec:\n  model: m\n  environment: staging\n  scaling: {concurrency: 2}\n",
            {"maxScale": 5},
            "spec:\n  model: m\n  environment: staging\n  scaling: {concurrency: 2, maxScale: 5}\n",
            id="flow mapping",
        ),
        pytest.param(
            "spec: {model: m, environment: staging}\n",
            {"minScale": 1},
            "spec: {model: m, environment: staging, scaling: {minScale: 1}}\n",
            id="flow spec",
        ),
        pytest.param(
            'spec:\n  model: m\n  environment: staging\n  scaling:\n    maxScale: "2"\n',
            {"maxScale": 3},
            "spec:\n  model: m\n  environment: staging\n  scaling:\n    maxScale: 3\n",
            id="quoted value",
        ),
    ],
)
def test_set_scaling_changes_only_the_values(
    spec: str, values: dict[str, int], edited: str
) -> None:
    assert set_scaling("d.yaml", (HEAD + spec).encode(), "api", values) == (HEAD + edited).encode()


def test_set_scaling_keeps_crlf_a_missing_final_newline_and_other_documents() -> None:
    model = (
        "apiVersion: alignops.dev/v1alpha1\r\nkind: Model\r\nmetadata:\r\n  name: m\r\n"
        "spec:\r\n  version: '1'\r\n  artifact: {uri: m.skops, sha256: '" + "a" * 64 + "'}\r\n"
    )
    deployment = HEAD.replace("\n", "\r\n") + "spec:\r\n  model: m\r\n  environment: staging"
    text = model + "---\r\n" + deployment

    edited = set_scaling("d.yaml", text.encode(), "api", {"minScale": 1})

    assert edited.decode() == text + "\r\n  scaling:\r\n    minScale: 1"


def test_set_scaling_refuses_an_anchored_value(tmp_path: Path) -> None:
    spec = (
        "spec:\n  model: m\n  environment: staging\n  memory: &n 1024\n"
        "  scaling:\n    maxScale: *n\n"
    )
    with pytest.raises(ManifestError) as caught:
        set_scaling("d.yaml", (HEAD + spec).encode(), "api", {"maxScale": 3})
    assert str(caught.value).startswith(
        "d.yaml:10: spec.scaling.maxScale: written through a YAML anchor or alias"
    )
    assert "nothing was committed" in str(caught.value)
