"""End to end: a deployment synced to the local runtime answers real requests; once its
process has stopped (writing its telemetry), ``alignops cost usage`` prices exactly
those requests with the scaffold's price list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from alignops.audit import AuditLog
from alignops.reconcile.providers import ProviderContext
from alignops.store import Database, default_database_url
from tests.conftest import Repo
from tests.reconcile.conftest import (
    Delivery,
    predict,
    stop_machine_helpers,
    stop_recorded,
    train,
)


@pytest.fixture
def served(repo: Repo) -> Iterator[Delivery]:
    db = Database(default_database_url(repo.path))
    world = Delivery(repo, db, AuditLog(db), ProviderContext(repo.path / ".alignops", db))
    world.model("scorer-v1", "1.0.0", train(1))
    world.deployment("scorer-api", "scorer-v1", memory=512)
    repo.commit("serve scorer-v1")
    try:
        yield world
    finally:
        stop_recorded(db)
        stop_machine_helpers(world.state_dir / "runtime")
        db.close()


def test_requests_served_by_the_runtime_are_priced(served: Delivery, cli: Any) -> None:
    result = served.sync()
    assert result.outcome == "synced", [a.message for a in result.actions]
    url = served.url("ModelDeployment/scorer-api")
    for _ in range(5):
        predict(url)
    stop_recorded(served.db)  # SIGTERM: the process writes its telemetry and exits

    run = cli("cost", "usage", "-o", "json", "--repo", str(served.repo.path))
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    (line,) = document["lines"]
    assert (line["resource"], line["environment"], line["requests"]) == (
        "ModelDeployment/scorer-api",
        "staging",
        5,
    )
    # The scaffold's price list: USD 0.0000166667 per GB-second, 0.20 per million requests.
    billed_ms = sum(pq.read_table(served.state_dir / "telemetry" / "scorer-api")["billed_ms"]
                    .to_pylist())  # fmt: skip
    gb_seconds = Decimal(512 * billed_ms) / Decimal(1024 * 1000)
    assert Decimal(line["gbSeconds"]) == gb_seconds
    assert Decimal(line["cost"]) == gb_seconds * Decimal("0.0000166667") + 5 * Decimal("0.0000002")
    assert line["currency"] == "USD" and line["priced"]
