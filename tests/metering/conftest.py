"""Fixtures for metering: a config repository with a model deployment and price lists,
telemetry segments written by the runtime's own writer, and the state database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alignops.metering import MeterResult, meter
from alignops.runtime.telemetry import Record, Telemetry
from alignops.store import Database, default_database_url
from alignops.store.schema import cost_records, metered_segments
from tests.conftest import Repo

CONFIG = """\
# alignops.yaml
version: 1
environments:
  - name: staging
    target: local
  - name: production
    target: {production_target}
targets:
  - name: local
    provider: local
    priceList: {price_list}
  - name: bare
    provider: local
priceLists:
  - name: test-prices
    currency: EUR
    gbSecond: {gb_second}
    perMillionRequests: {per_million}
  - name: lambda-like
    currency: USD
    gbSecond: 0.0000166667
    perMillionRequests: 0.20
"""

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: fraud-v1
spec:
  version: "1.2.0"
  artifact:
    uri: models/fraud-v1.skops
    sha256: "{sha256}"
"""

DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: fraud-api
  labels:
    team: risk
    cost-center: cc-42
spec:
  model: fraud-v1
  environment: {environment}
  memory: 2048
"""

NOON = int(datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp() * 1_000_000)
"""2026-11-23 12:00:00 UTC in µs, the first hour the tests' requests fall in."""
MINUTE = 60 * 1_000_000
HOUR = 60 * MINUTE


@dataclass
class World:
    """The config repository, its state folder and database, and helpers."""

    repo: Repo
    db: Database

    @property
    def state_dir(self) -> Path:
        return self.repo.path / ".alignops"

    def configure(
        self,
        *,
        price_list: str = "test-prices",
        gb_second: str = "0.0125",
        per_million: str = "50000",
        production_target: str = "local",
        environment: str = "staging",
        message: str = "prices",
    ) -> str:
        """Commit alignops.yaml and the deployment; the new revision."""
        self.repo.write(
            "alignops.yaml",
            CONFIG.format(
                price_list=price_list,
                gb_second=gb_second,
                per_million=per_million,
                production_target=production_target,
            ),
        )
        self.repo.write("deployments/fraud-api.yaml", DEPLOYMENT.format(environment=environment))
        return self.repo.commit(message)

    def writer(
        self,
        revision: str,
        *,
        deployment: str = "fraud-api",
        environment: str = "staging",
        memory_mb: int = 2048,
    ) -> Telemetry:
        """The runtime's telemetry writer, as a service process of ``revision`` has it."""
        return Telemetry(
            self.state_dir / "telemetry",
            deployment=deployment,
            environment=environment,
            revision=revision,
            memory_limit_mb=memory_mb,
            flush_seconds=60,
            max_batch_rows=100_000,
            buffer_limit=100_000,
        )

    def segment(
        self,
        revision: str,
        requests: list[tuple[int, int]],
        *,
        refused: int = 0,
        model: str | None = "fraud-v1",
        **service: Any,
    ) -> Path:
        """One segment, written by the runtime's telemetry writer: ``requests`` are
        (µs timestamp, billed ms) answered by ``model`` 1.2.0; ``refused`` more were
        refused with 429 (not billed). Returns the new segment's path."""
        telemetry = self.writer(revision, **service)
        before = set(telemetry.directory.glob("*.parquet"))
        for i, (timestamp, billed_ms) in enumerate(requests):
            telemetry.record(answered(f"r{i}", timestamp, billed_ms, model))
        for i in range(refused):
            telemetry.record(_record(f"x{i}", NOON, 429, None, 0))
        assert telemetry.close()
        (path,) = set(telemetry.directory.glob("*.parquet")) - before
        return path

    def meter(self) -> MeterResult:
        return meter(self.repo.git, state_dir=self.state_dir, database=self.db)

    def records(self) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            rows = conn.execute(select(cost_records).order_by(cost_records.c.id))
            return [dict(r._mapping) for r in rows]

    def record(self, sku: str, hour: str = "2026-11-23T12:00:00Z", **where: str) -> dict[str, Any]:
        (found,) = [
            r
            for r in self.records()
            if r["SkuId"] == sku
            and r["ChargePeriodStart"] == hour
            and all(r[k] == v for k, v in where.items())
        ]
        return found

    def metered(self) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            return [dict(r._mapping) for r in conn.execute(select(metered_segments))]


def answered(request_id: str, timestamp: int, billed_ms: int, model: str | None) -> Record:
    """A request ``model`` 1.2.0 (None: a function's handler) answered, billed
    ``billed_ms``."""
    return _record(request_id, timestamp, 200, model, billed_ms)


def _record(request_id: str, timestamp: int, status: int, model: str | None, billed: int) -> Record:
    version = "1.2.0" if model else None  # a function's handler has no model version
    body = b'{"rows": [{"x1": 1.0}]}'
    latency = billed - 0.4 if billed else 0.3
    return (request_id, timestamp, model, version, status, latency, False, 1, body, b"{}",
            None, billed)  # fmt: skip


@pytest.fixture
def world(repo: Repo) -> Iterator[World]:
    """The scaffolded repository with model fraud-v1 and deployment fraud-api (staging,
    2048 MB) on target ``local`` priced by ``test-prices`` (EUR 0.0125 per GB-second,
    EUR 50,000 per million requests: round numbers to compute by hand), committed."""
    artifact = b"not a real model: metering never opens it"
    repo.write("models/fraud-v1.skops", artifact.decode())
    repo.write("models/fraud-v1.yaml", MODEL.format(sha256=hashlib.sha256(artifact).hexdigest()))
    db = Database(default_database_url(repo.path))
    world = World(repo, db)
    world.configure()
    try:
        yield world
    finally:
        db.close()
