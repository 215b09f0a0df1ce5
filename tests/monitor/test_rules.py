"""Rules of an environment: from the requirements of the policies that select its
deployments' models, and from ``AlertRule`` manifests; each knows where it was written."""

from __future__ import annotations

import pytest

from alignops.errors import ManifestError
from alignops.monitor.rules import plan_rules, rules_for
from tests.monitor.alerting_world import (
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)

SECOND_DRIFT = """\
    - type: DataDriftMonitoring
      threshold: 0.3
      features: [x2]
      severity: critical
"""

RULES = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: risk-errors
spec:
  selector:
    matchLabels: {team: risk}
  metric: error_rate
  op: ">="
  threshold: 0.05
  alertTargets: [log, "mailto:oncall@example.com"]
  remediation:
    action: scale
    automatic: true
    scale: {maxScale: 3}
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: staging-only
spec:
  selector:
    environments: [staging]
  metric: p99
  threshold: 900
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: other-team
spec:
  selector:
    matchLabels: {team: growth}
  metric: cost_rate
  threshold: 2
"""


def test_policy_requirements_become_rules_with_their_source(world: World) -> None:
    snapshot = world.repo.git.snapshot("HEAD")
    plan = plan_rules(snapshot, "production")
    assert plan.deployments == ("scorer-api",)
    drift, bias = plan.rules
    assert (drift.name, drift.metric, drift.op, drift.threshold) == (
        "scorer-watch/data-drift-monitoring",
        "psi",
        ">",
        0.1,
    )
    assert drift.source == "policies/scorer-watch.yaml:8"
    assert drift.targets == ("slack://#ml-alerts",)
    assert drift.features is None and drift.model == "scorer-v1"
    assert drift.fingerprint == "scorer-watch/data-drift-monitoring|production|scorer-api"
    assert (bias.metric, bias.threshold, bias.min_group_size) == ("parity", 0.2, 10)
    assert bias.attributes is None  # the reference dataset's protected attributes
    (unwatched,) = plan.unwatched
    assert unwatched.requirement == "PerformanceThreshold"
    assert unwatched.source == "policies/scorer-watch.yaml:16"
    assert "true labels" in unwatched.reason
    assert rules_for(snapshot, "staging") == []  # scorer-api is not deployed there


def test_two_requirements_of_one_type_get_distinct_names(world: World) -> None:
    path = world.repo.path / "policies/scorer-watch.yaml"
    text = path.read_text().replace(
        "    - type: BiasDetection", SECOND_DRIFT + "    - type: BiasDetection"
    )
    world.configure(extra={"policies/scorer-watch.yaml": text})
    rules = rules_for(world.repo.git.snapshot("HEAD"), "production")
    drifts = [r for r in rules if r.metric == "psi"]
    assert [(r.name, r.threshold, r.features) for r in drifts] == [
        ("scorer-watch/data-drift-monitoring-1", 0.1, None),
        ("scorer-watch/data-drift-monitoring-2", 0.3, ("x2",)),
    ]
    assert drifts[1].severity == "critical"


def test_alert_rules_select_by_deployment_environment_and_labels(world: World) -> None:
    world.configure(extra={"alerts/rules.yaml": RULES})
    snapshot = world.repo.git.snapshot("HEAD")
    rules = {r.name: r for r in rules_for(snapshot, "production")}
    assert set(rules) == {
        "scorer-watch/data-drift-monitoring",
        "scorer-watch/bias-detection",
        "risk-errors",
    }
    errors = rules["risk-errors"]
    assert (errors.metric, errors.op, errors.threshold) == ("error_rate", ">=", 0.05)
    assert errors.targets == ("log", "mailto:oncall@example.com")
    assert errors.remediation.action == "scale" and errors.remediation.automatic
    assert errors.source == "alerts/rules.yaml:1"
    assert errors.breaks(0.05) and not errors.breaks(0.049)


def test_an_alert_rule_naming_an_unknown_deployment_is_refused(world: World) -> None:
    bad = RULES.replace("matchLabels: {team: risk}", "deployments: [scorer-apii]")
    world.repo.write("alerts/rules.yaml", bad)
    with pytest.raises(ManifestError) as info:
        world.repo.git.snapshot()
    assert [str(p) for p in info.value.problems] == [
        "alerts/rules.yaml:7: spec.selector.deployments[0]: refers to "
        "ModelDeployment/scorer-apii, which is not defined in the repository"
    ]
