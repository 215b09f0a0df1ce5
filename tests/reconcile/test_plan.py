"""Desired state from a revision, and the plan against what runs: pure functions."""

from __future__ import annotations

import pytest

from alignops.errors import ManifestError
from alignops.reconcile import DesiredService, LiveService, desired_state, plan
from tests.conftest import Repo

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: {name}
spec:
  version: "{version}"
  artifact:
    uri: models/{name}.skops
    sha256: "{sha}"
"""

DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
  labels:
    team: risk
spec:
  model: scorer-v1
  environment: staging
  memory: {memory}
  scaling:
    minScale: 0
    concurrency: 4
{traffic}"""


@pytest.fixture
def served(repo: Repo) -> Repo:
    repo.write("models/v1.yaml", MODEL.format(name="scorer-v1", version="1.0.0", sha="a" * 64))
    repo.write("models/v2.yaml", MODEL.format(name="scorer-v2", version="2.0.0", sha="b" * 64))
    repo.write("deployments/scorer.yaml", DEPLOYMENT.format(memory=512, traffic=""))
    repo.commit("serve scorer")
    return repo


def running(desired: dict[str, DesiredService], **observed: object) -> dict[str, LiveService]:
    """What a provider would report after applying ``desired``, with ``observed`` settings
    changed since (out of band)."""
    return {
        name: LiveService(name, d.fingerprint, d.revision, {**d.settings(), **observed})
        for name, d in desired.items()
    }


def test_desired_state_of_an_environment(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    assert list(desired) == ["ModelDeployment/scorer-api", "ServerlessFunction/scorer"]
    service = desired["ModelDeployment/scorer-api"]
    assert (service.provider, service.target, service.memory_mb, service.concurrency) == (
        "local",
        "local",
        512,
        4,
    )
    assert [(m.name, m.version, m.sha256, m.percent) for m in service.models] == [
        ("scorer-v1", "1.0.0", "a" * 64, 100)
    ]
    assert service.labels == (("team", "risk"),)
    # Both name staging; a function that names no environment runs in every one.
    assert desired_state(served.git.snapshot("HEAD"), "production") == {}
    served.write(
        "functions/anywhere.yaml",
        "apiVersion: alignops.dev/v1alpha1\nkind: ServerlessFunction\nmetadata:\n  name: anywhere\nspec:\n  handler: functions.scorer:score\n",
    )
    served.commit("a function for every environment")
    production = desired_state(served.git.snapshot("HEAD"), "production")
    assert list(production) == ["ServerlessFunction/anywhere"]


def test_unknown_environment_is_an_input_error(served: Repo) -> None:
    with pytest.raises(
        ManifestError, match="no environment 'qa' \\(defined: production, staging\\)"
    ):
        desired_state(served.git.snapshot("HEAD"), "qa")


def test_nothing_running_plans_creates(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    result = plan(desired, {})
    assert [(a.verb, a.name) for a in result.actions] == [
        ("create", "ModelDeployment/scorer-api"),
        ("create", "ServerlessFunction/scorer"),
    ]


def test_an_unrelated_commit_is_a_noop(served: Repo) -> None:
    before = desired_state(served.git.snapshot("HEAD"), "staging")
    served.write("README.md", "edited\n")
    served.commit("docs")
    after = desired_state(served.git.snapshot("HEAD"), "staging")
    assert (
        after["ModelDeployment/scorer-api"].revision
        != before["ModelDeployment/scorer-api"].revision
    )
    result = plan(after, running(before))
    assert result.is_noop
    assert result.unchanged == ("ModelDeployment/scorer-api", "ServerlessFunction/scorer")


def test_a_changed_deployment_plans_one_update_with_its_changes(served: Repo) -> None:
    before = desired_state(served.git.snapshot("HEAD"), "staging")
    served.write(
        "deployments/scorer.yaml",
        DEPLOYMENT.format(
            memory=1024,
            traffic="  traffic:\n    - model: scorer-v1\n      percent: 90\n"
            "    - model: scorer-v2\n      percent: 10\n",
        ),
    )
    revision = served.commit("canary v2 with more memory")
    after = desired_state(served.git.snapshot("HEAD"), "staging")
    result = plan(after, running(before))
    (action,) = result.actions
    assert (action.verb, action.name) == ("update", "ModelDeployment/scorer-api")
    assert action.reason == f"changed in {revision[:12]}"
    changed = {setting for setting, _, _ in action.changes}
    assert changed == {"memory_mb", "models"}
    assert [m.percent for m in action.desired.models] == [90, 10]  # type: ignore[union-attr]


def test_a_setting_changed_outside_git_is_drift(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    live = running(desired, memory_mb=2048)
    result = plan(desired, live)
    assert [(a.verb, a.reason) for a in result.actions] == [
        ("update", "drift: changed outside Git"),
        ("update", "drift: changed outside Git"),
    ]
    assert result.actions[0].changes == (("memory_mb", 2048, 512),)


def test_a_killed_service_is_created_again(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    live = running(desired)
    del live["ServerlessFunction/scorer"]
    (action,) = plan(desired, live).actions
    assert (action.verb, action.name, action.reason) == (
        "create",
        "ServerlessFunction/scorer",
        "not running",
    )


def test_removed_services_are_pruned_unless_unmanaged_or_pruning_is_off(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    live = running(desired)
    live["ModelDeployment/old"] = LiveService("ModelDeployment/old", "f" * 64, "c" * 40)
    live["ModelDeployment/hand-made"] = LiveService(
        "ModelDeployment/hand-made", "e" * 64, "d" * 40, managed=False
    )
    assert [(a.verb, a.name) for a in plan(desired, live).actions] == [
        ("delete", "ModelDeployment/old")
    ]
    assert plan(desired, live, prune=False).is_noop


def test_plan_is_json_ready(served: Repo) -> None:
    desired = desired_state(served.git.snapshot("HEAD"), "staging")
    document = plan(desired, running(desired, memory_mb=1024)).to_dict()
    assert document["actions"][0] == {
        "action": "update",
        "service": "ModelDeployment/scorer-api",
        "reason": "drift: changed outside Git",
        "drift": True,
        "changes": [{"setting": "memory_mb", "live": 1024, "desired": 512}],
    }
