"""Fixtures for delivery: a config repository with real skops models and a deployment,
the local provider on its state folder, and a finalizer that stops every process the
``services`` table lists — so no test leaks a service process."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from alignops.audit import AuditLog
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.providers import ProviderContext, processes
from alignops.reconcile.providers.activation import Activations
from alignops.reconcile.sync import SyncResult, open_providers, sync
from alignops.runtime.launcher import Launcher
from alignops.store import Database, default_database_url
from alignops.store.schema import services
from tests.conftest import Repo

FEATURES = ["x1", "x2"]
ROWS = [{"x1": 2.0, "x2": 1.0}, {"x1": -2.0, "x2": -1.0}, {"x1": 0.3, "x2": -0.2}]

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: {name}
  labels:
    team: risk
spec:
  version: "{version}"
  artifact:
    uri: models/{name}.skops
    sha256: "{sha256}"
{features}"""

DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: {name}
  labels:
    team: risk
spec:
  model: {model}
  environment: staging
  memory: {memory}
  timeoutSeconds: 5
  scaling:
    minScale: {min_scale}
    concurrency: 4
"""


def train(seed: int) -> LogisticRegression:
    """A small classifier fitted on a NumPy array: the manifest names its features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + (1 + seed % 2) * X[:, 1] + rng.normal(scale=0.3, size=300) > 0).astype(int)
    return LogisticRegression().fit(X, y)


def expected(model: LogisticRegression) -> list[int]:
    return [int(v) for v in model.predict(np.array([[r[f] for f in FEATURES] for r in ROWS]))]


@dataclass
class Delivery:
    """The config repository, its state database and what sync needs, plus helpers."""

    repo: Repo
    db: Database
    audit: AuditLog
    context: ProviderContext

    @property
    def state_dir(self) -> Path:
        return self.repo.path / ".alignops"

    def model(self, name: str, version: str, estimator: Any, *, features: bool = True) -> None:
        data = sio.dumps(estimator)
        (self.repo.path / "models").mkdir(exist_ok=True)
        (self.repo.path / f"models/{name}.skops").write_bytes(data)
        listed = f"  features: [{', '.join(FEATURES)}]\n" if features else ""
        self.repo.write(
            f"models/{name}.yaml",
            MODEL.format(
                name=name,
                version=version,
                sha256=hashlib.sha256(data).hexdigest(),
                features=listed,
            ),
        )

    def deployment(self, name: str, model: str, *, memory: int = 512, min_scale: int = 1) -> None:
        """An always-on deployment by default; ``min_scale=0`` scales it to zero when idle
        (served through the activator)."""
        self.repo.write(
            f"deployments/{name}.yaml",
            DEPLOYMENT.format(name=name, model=model, memory=memory, min_scale=min_scale),
        )

    def snapshot(self, revision: str = "HEAD") -> Snapshot:
        return self.repo.git.snapshot(revision)

    def sync(self, revision: str = "HEAD", environment: str = "staging") -> SyncResult:
        return sync(
            self.snapshot(revision),
            environment=environment,
            context=self.context,
            audit=self.audit,
        )

    def providers(self) -> Any:
        return open_providers(self.snapshot(), self.context)

    def live(self, environment: str = "staging") -> dict[str, Any]:
        return self.providers()["local"].live(environment)

    def url(self, name: str) -> str:
        return str(self.live()[name].details["url"])

    def pid(self, name: str) -> int:
        return int(self.live()[name].details["pid"])


def predict(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/predict", json={"rows": ROWS}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def metadata(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/metadata", timeout=10).json())


def stop_recorded(db: Database) -> None:
    """SIGTERM every process the services table lists, then SIGKILL what is left."""
    with db.transaction() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(services))]
    owned = [r for r in rows if processes.owns(r["pid"], r["process_start"], r["spec_path"])]
    for row in owned:
        os.kill(row["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        processes.reap(r["pid"]) is None and processes.inspect(r["pid"]) for r in owned
    ):
        time.sleep(0.05)
    for row in owned:
        if processes.owns(row["pid"], row["process_start"], row["spec_path"]):
            os.kill(row["pid"], signal.SIGKILL)
        for _ in range(100):
            if processes.reap(row["pid"]) is not None or processes.inspect(row["pid"]) is None:
                break
            time.sleep(0.05)


def stop_machine_helpers(runtime: Path) -> None:
    """Stop the activator (and the services it started) and the launcher of a runtime
    folder."""
    Activations(runtime, "127.0.0.1", 0, 60).stop_activator()
    Launcher(runtime).stop()


@pytest.fixture
def delivery(repo: Repo) -> Iterator[Delivery]:
    """The scaffolded repository plus model ``scorer-v1`` deployed as ``scorer-api`` in
    staging, committed. Every process started during the test is stopped afterwards."""
    db = Database(default_database_url(repo.path))
    world = Delivery(repo, db, AuditLog(db), ProviderContext(repo.path / ".alignops", db))
    world.model("scorer-v1", "1.0.0", train(1))
    world.deployment("scorer-api", "scorer-v1")
    # Only the model deployment: the scaffold's function is delivered in its own test.
    (repo.path / "functions" / "scorer.yaml").unlink()
    repo.commit("serve scorer-v1")
    try:
        yield world
    finally:
        stop_recorded(db)
        stop_machine_helpers(world.state_dir / "runtime")
        db.close()
