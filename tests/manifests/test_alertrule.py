"""``AlertRule``: valid rules load; every mistake names the file, the line and the field."""

from __future__ import annotations

import pytest

from alignops.errors import ManifestError
from alignops.manifests import load_manifests
from alignops.manifests.kinds import AlertRule

RULE = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: scorer-latency
spec:
  selector:
    deployments: [fraud-api]
    environments: [production]
  metric: p95
  op: ">="
  threshold: 250
  severity: critical
  alertTarget: slack://#ai-ops-alerts
  remediation:
    action: scale
    automatic: true
    scale: {maxScale: 4}
"""

ANOMALY = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: scorer-errors-anomaly
spec:
  metric: anomaly:error_rate
  anomaly:
    season: 24
    window: 168
    minChange: 0.01
    direction: both
  alertTargets: [log]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests("alerts/rules.yaml", text.encode())
    return [str(p) for p in info.value.problems]


def test_a_threshold_rule_loads() -> None:
    (resource,) = load_manifests("alerts/rules.yaml", RULE.encode())
    rule = resource.model
    assert isinstance(rule, AlertRule)
    spec = rule.spec
    assert (spec.metric, spec.op, spec.threshold, spec.severity) == ("p95", ">=", 250, "critical")
    assert spec.targets == ("slack://#ai-ops-alerts",)
    assert spec.selector.selects("fraud-api", "production", {})
    assert not spec.selector.selects("fraud-api", "staging", {})
    assert rule.references() == [("spec.selector.deployments[0]", "ModelDeployment/fraud-api")]


def test_an_anomaly_rule_loads_with_its_default_score_threshold() -> None:
    (resource,) = load_manifests("alerts/rules.yaml", ANOMALY.encode())
    spec = resource.model.spec
    assert isinstance(resource.model, AlertRule)
    assert spec.threshold == 4.0
    assert spec.anomaly_settings.season == 24 and spec.anomaly_settings.direction == "both"
    assert spec.targets == ("log",)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("metric: p95", "metric: p96"), "alerts/rules.yaml:9: spec.metric: unknown metric 'p96'"),
        (
            ("  threshold: 250\n", ""),
            "alerts/rules.yaml:5: spec.threshold: required for metric 'p95'",
        ),
        (('op: ">="', 'op: "=>"'), "alerts/rules.yaml:10: spec.op: "),
        (("severity: critical", "severity: page"), "alerts/rules.yaml:12: spec.severity: "),
        (
            ("alertTarget: slack://#ai-ops-alerts", "alertTarget: https://hooks.slack.com/x"),
            "alerts/rules.yaml:13: spec.alertTarget: alert target 'https://hooks.slack.com/x'",
        ),
        (
            ("  metric: p95\n", "  metric: p95\n  features: [x1]\n"),
            "alerts/rules.yaml:10: spec.features: only used with metric psi",
        ),
        (
            ("deployments: [fraud-api]", "deployments: [Fraud_API]"),
            "alerts/rules.yaml:7: spec.selector.deployments[0]: ",
        ),
        (
            ("    scale: {maxScale: 4}\n", ""),
            "alerts/rules.yaml:14: spec.remediation: action scale needs",
        ),
        (
            ("  threshold: 250\n", "  threshold: 250\n  treshold: 3\n"),
            "alerts/rules.yaml:12: spec.treshold: unknown field; did you mean 'threshold'?",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(change: tuple[str, str], expected: str) -> None:
    found = problems(RULE.replace(*change))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("metric: anomaly:error_rate", "metric: anomaly:psi"),
            "alerts/rules.yaml:6: spec.metric: unknown metric 'anomaly:psi'",
        ),
        (
            ("window: 168", "window: 30"),
            "alerts/rules.yaml:9: spec.anomaly.window: must be at least 3 × season (72)",
        ),
        (
            ("  alertTargets", "  op: '<'\n  alertTargets"),
            "alerts/rules.yaml:12: spec.op: not used with anomaly:<metric>",
        ),
        (
            ("direction: both", "direction: sideways"),
            "alerts/rules.yaml:11: spec.anomaly.direction: ",
        ),
        (
            ("alertTargets: [log]", "alertTargets: [log, 'slack:#x']"),
            "alerts/rules.yaml:12: spec.alertTargets: alert target 'slack:#x'",
        ),
    ],
)
def test_anomaly_mistakes_name_file_line_and_field(change: tuple[str, str], expected: str) -> None:
    found = problems(ANOMALY.replace(*change))
    assert any(p.startswith(expected) for p in found), found


def test_anomaly_settings_on_a_threshold_metric_are_refused() -> None:
    text = RULE.replace("  severity: critical\n", "  severity: critical\n  anomaly: {window: 10}\n")
    assert problems(text) == [
        "alerts/rules.yaml:13: spec.anomaly: only used with an anomaly:<metric> metric"
    ]
