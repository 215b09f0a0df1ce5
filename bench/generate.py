"""Generate a config repository of N resources and P policies for benchmarks."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from alignops.scaffold import scaffold
from alignops.source import ConfigRepository

_FUNCTION = """\
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: fn-{i}
  labels: {{team: team-{team}, cost-center: cc-{cc}}}
spec:
  handler: functions.scorer:score
  memory: {memory}
  timeoutSeconds: {timeout}
  concurrency: {concurrency}
  environment: {env}
"""
_DATASET = """\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: ds-{i}
  labels: {{team: team-{team}}}
spec:
  uri: data/ds-{i}.parquet
  sha256: "{sha}"
  role: {role}
  label: target
  protectedAttributes: [SEX, RAC1P]
"""
_MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: model-{i}
  labels: {{team: team-{team}}}
spec:
  version: "1.{i}.0"
  riskLevel: {risk}
  artifact:
    uri: models/model-{i}.skops
    sha256: "{sha}"
  datasets:
    training: ds-{ds}
"""
_DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: deploy-{i}
  labels: {{team: team-{team}}}
spec:
  model: model-{i}
  environment: {env}
  memory: {memory}
  scaling: {{minScale: 0, maxScale: {max_scale}, concurrency: 8}}
"""

_V0_POLICY = """\
package bench.v0_{i}

deny[msg] {{
  input.kind == "{kind}"
  input.spec.memory > {limit}
  msg := sprintf("%s uses %d MB, over {limit}", [input.metadata.name, input.spec.memory])
}}

warn[msg] {{
  input.kind == "{kind}"
  not input.metadata.labels["cost-center"]
  msg := "no cost-center label"
}}
"""
_V1_POLICY = """\
package bench.v1_{i}

import rego.v1

deny contains {{"msg": msg, "field": "metadata.labels"}} if {{
  not input.metadata.labels.team
  msg := sprintf("%s %s has no team label", [input.kind, input.metadata.name])
}}

deny contains msg if {{
  input.kind == "ModelDeployment"
  model := data.alignops.resources.Model[input.spec.model]
  model.spec.riskLevel == "high"
  input.spec.scaling.maxScale > {max_scale}
  msg := "high-risk models scale to at most {max_scale} replicas"
}}

warn contains msg if {{
  input.kind == "ServerlessFunction"
  input.spec.timeoutSeconds > {timeout}
  msg := sprintf("timeout %d s over {timeout} s", [input.spec.timeoutSeconds])
}}
"""


def generate(path: Path, *, resources: int = 1000, policies: int = 20, seed: int = 7) -> str:
    """Create the repository at ``path``; return the commit id."""
    rnd = random.Random(seed)
    repo = scaffold(path)
    counts = {
        "fn": resources * 3 // 10,
        "ds": resources // 10,
        "model": resources * 3 // 10,
    }
    counts["deploy"] = resources - sum(counts.values()) - 4  # the template has 4 resources
    envs = ["staging", "production"]
    out = path / "generated"
    out.mkdir()
    for i in range(counts["ds"]):
        (out / f"ds-{i}.yaml").write_text(
            _DATASET.format(
                i=i, team=i % 7, sha=f"{i:064x}", role=rnd.choice(["training", "evaluation"])
            )
        )
    for i in range(counts["fn"]):
        (out / f"fn-{i}.yaml").write_text(
            _FUNCTION.format(
                i=i,
                team=i % 7,
                cc=i % 3,
                memory=rnd.choice([128, 256, 512, 1024]),
                timeout=rnd.choice([10, 30, 60]),
                concurrency=rnd.randint(1, 16),
                env=rnd.choice(envs),
            )
        )
    for i in range(counts["model"]):
        (out / f"model-{i}.yaml").write_text(
            _MODEL.format(
                i=i,
                team=i % 7,
                risk=rnd.choice(["low", "high"]),
                sha=f"{i + 7:064x}",
                ds=i % counts["ds"],
            )
        )
    for i in range(counts["deploy"]):
        (out / f"deploy-{i}.yaml").write_text(
            _DEPLOYMENT.format(
                i=i,
                team=i % 7,
                env=rnd.choice(envs),
                memory=rnd.choice([512, 1024, 2048]),
                max_scale=rnd.randint(1, 6),
            )
        )
    for i in range(policies):
        if i % 2:
            text = _V0_POLICY.format(
                i=i,
                kind=rnd.choice(["ServerlessFunction", "ModelDeployment"]),
                limit=rnd.choice([256, 512, 1024]),
            )
        else:
            text = _V1_POLICY.format(i=i, max_scale=rnd.randint(2, 5), timeout=rnd.choice([20, 45]))
        (path / "policies" / f"bench_{i}.rego").write_text(text)
    (path / "policies/serverless.rego").unlink()  # keep the count at exactly `policies`
    (path / "policies/serverless_test.rego").unlink()
    (path / "policies/labels.rego").unlink()
    return repo.commit_all(f"{resources} resources, {policies} policies")


if __name__ == "__main__":
    target = Path(sys.argv[1])
    print(generate(target))
    print(len(ConfigRepository(target).snapshot("HEAD").resources), "resources")
