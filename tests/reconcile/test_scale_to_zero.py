"""Scale to zero with the local provider: a deployment with ``minScale: 0`` is a route on
the activator; a request cold-starts its process, idleness stops it, the next request
starts it again — real processes, real HTTP, real telemetry."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from alignops.reconcile.providers import processes
from alignops.reconcile.providers.activation import Activations
from tests.reconcile.conftest import ROWS, Delivery, expected, train

SERVICE = "ModelDeployment/scorer-api"

ZERO = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
spec:
  model: {model}
  environment: staging
  memory: 512
  timeoutSeconds: 5
  scaling:
    minScale: 0
    idleTimeoutSeconds: 2
"""


def scale_to_zero(delivery: Delivery, model: str = "scorer-v1") -> None:
    delivery.repo.write("deployments/scorer-api.yaml", ZERO.format(model=model))


def backends(delivery: Delivery) -> list[processes.ProcessInfo]:
    """Service processes the activator runs for scorer-api."""
    folder = delivery.state_dir.resolve() / "runtime" / "activator" / "staging" / "scorer-api"
    return processes.find(f"--spec {folder}/")


def wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def post(url: str) -> httpx.Response:
    return httpx.post(f"{url}/predict", json={"rows": ROWS}, timeout=30)


def test_idle_service_scales_to_zero_and_the_next_request_starts_it(delivery: Delivery) -> None:
    scale_to_zero(delivery)
    head = delivery.repo.commit("scale scorer-api to zero when idle")
    result = delivery.sync()
    assert result.outcome == "synced", result.to_dict()["failures"]
    (create,) = [a for a in result.actions if a.service == SERVICE]
    assert "scales to zero at http://127.0.0.1:" in create.message
    assert "started once in" in create.message  # the deploy proved the version boots
    url = delivery.url(SERVICE)
    assert url.endswith("/staging/scorer-api")

    # After the idle timeout nothing runs for it, and health says so.
    wait_until(lambda: not backends(delivery))
    health = delivery.providers()["local"].health("staging", [SERVICE])[SERVICE]
    assert (health.ok, health.reason) == (True, "scaled to zero; starts on the next request")
    assert health.details["coldStarts"]["count"] == 0  # the deploy only checked it boots

    # The next request starts it again (cold), and is answered by the model.
    cold = post(url)
    assert cold.status_code == 200, cold.text
    assert cold.json()["predictions"] == expected(train(1))
    assert cold.json()["revision"] == head
    cold_ms = float(cold.headers["x-alignops-cold-start"])
    assert cold_ms > 0
    (running,) = backends(delivery)
    warm = post(url)
    assert warm.status_code == 200
    assert "x-alignops-cold-start" not in warm.headers
    health = delivery.providers()["local"].health("staging", [SERVICE])[SERVICE]
    assert health.reason == f"warm (pid {running.pid})"
    assert health.details["coldStarts"]["count"] == 1
    assert health.details["coldStarts"]["lastMs"] == round(cold_ms, 1)

    # Idle again: stopped with SIGTERM, so its telemetry is written, the first request
    # marked as a cold start.
    wait_until(lambda: not backends(delivery))
    segments = list((delivery.state_dir / "telemetry").rglob("*.parquet"))
    table = pq.read_table(segments).to_pylist()
    requests = [r for r in table if r["deployment"] == "scorer-api" and r["status"] == 200]
    assert len(requests) == 2
    first, second = sorted(requests, key=lambda r: r["timestamp"])
    assert (first["cold_start"], second["cold_start"]) == (True, False)

    # A no-op sync leaves it scaled to zero and starts nothing.
    again = delivery.sync()
    assert (again.outcome, again.actions, again.unchanged) == ("synced", (), (SERVICE,))
    assert not backends(delivery)


def test_new_version_is_routed_only_once_it_boots(delivery: Delivery) -> None:
    scale_to_zero(delivery)
    delivery.repo.commit("scale to zero")
    assert delivery.sync().outcome == "synced"
    url = delivery.url(SERVICE)

    delivery.model("scorer-v2", "2.0.0", train(2))
    scale_to_zero(delivery, "scorer-v2")
    v2 = delivery.repo.commit("serve scorer-v2")
    updated = delivery.sync()
    assert updated.outcome == "synced", updated.to_dict()["failures"]
    answer = post(url).json()
    assert (answer["version"], answer["revision"]) == ("2.0.0", v2)
    assert answer["predictions"] == expected(train(2))
    assert len(backends(delivery)) == 1  # the v1 process was stopped

    # A version that cannot start (fitted on an array, no features listed: the runtime
    # refuses it) is not routed: the sync fails, and requests keep getting v2.
    delivery.model("scorer-v3", "3.0.0", train(3), features=False)
    scale_to_zero(delivery, "scorer-v3")
    delivery.repo.commit("serve scorer-v3")
    failed = delivery.sync()
    assert failed.outcome == "failed"
    (failure,) = failed.failures
    assert "did not start" in failure.message and "exited with status 2" in failure.message
    assert "fitted without feature names" in failure.message  # the tail of its log
    assert post(url).json()["version"] == "2.0.0"
    assert len(backends(delivery)) == 1


def test_deployments_of_one_model_and_settings_share_one_boot_check(delivery: Delivery) -> None:
    scale_to_zero(delivery)
    twin = ZERO.format(model="scorer-v1").replace("name: scorer-api", "name: scorer-twin")
    delivery.repo.write("deployments/scorer-twin.yaml", twin)
    delivery.repo.commit("two deployments of one model, scaled to zero")
    result = delivery.sync()
    assert result.outcome == "synced", result.to_dict()["failures"]
    messages = sorted(a.message for a in result.actions if "scales to zero" in a.message)
    assert len(messages) == 2
    checked = [m for m in messages if "started once in" in m]
    shared = [m for m in messages if "boots as ModelDeployment/" in m]
    assert (len(checked), len(shared)) == (1, 1)  # one start proved both
    for name in ("scorer-api", "scorer-twin"):
        answer = post(delivery.url(f"ModelDeployment/{name}"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected(train(1))


def test_a_killed_activator_is_drift_and_the_next_sync_heals_it(delivery: Delivery) -> None:
    scale_to_zero(delivery)
    delivery.repo.commit("scale to zero")
    assert delivery.sync().outcome == "synced"
    url = delivery.url(SERVICE)
    runtime = delivery.state_dir / "runtime"
    record = Activations(runtime, "127.0.0.1", 0, 60).record()
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: processes.inspect(record.pid) is None or processes.reap(record.pid))
    assert SERVICE not in delivery.live()

    healed = delivery.sync()
    assert healed.outcome == "synced", healed.to_dict()["failures"]
    (create,) = [a for a in healed.actions if a.service == SERVICE]
    assert create.reason == "not running"
    assert delivery.url(SERVICE) == url  # the activator came back on the same port
    assert post(url).status_code == 200
    assert len(backends(delivery)) == 1  # the killed activator's backend was stopped

    # Removing the deployment unroutes it.
    (delivery.repo.path / "deployments/scorer-api.yaml").unlink()
    delivery.repo.commit("retire scorer-api")
    assert delivery.sync().outcome == "synced"
    gone = post(url)
    assert gone.status_code == 404
    assert gone.json()["error"] == "no_route"
    wait_until(lambda: not backends(delivery))


def test_status_shows_cold_starts(delivery: Delivery, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from alignops.cli import app

    scale_to_zero(delivery)
    delivery.repo.commit("scale to zero")
    assert delivery.sync().outcome == "synced"
    monkeypatch.chdir(delivery.repo.path)
    result = CliRunner().invoke(app, ["status", "--output", "json"])
    assert result.exit_code == 0, result.output

    (row,) = [r for r in json.loads(result.output)["services"] if r["service"] == SERVICE]
    assert row["scaleToZero"] is True
    assert row["coldStarts"]["count"] == 0
    assert Path(row["url"]).name == "scorer-api"


def test_a_serverless_function_scales_to_zero_and_answers_invoke(delivery: Delivery) -> None:
    delivery.repo.function("scorer", 256)  # the scaffold's handler: functions.scorer:score
    head = delivery.repo.commit("deliver the scorer function")
    result = delivery.sync()
    assert result.outcome == "synced", result.to_dict()["failures"]
    name = "ServerlessFunction/scorer"
    url = delivery.url(name)
    assert url.endswith("/staging/scorer")
    answer = httpx.post(f"{url}/invoke", json={"amount": 2500}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"score": 0.25}
    assert "x-alignops-cold-start" in answer.headers
    metadata = httpx.get(f"{url}/metadata", timeout=10).json()
    assert (metadata["kind"], metadata["handler"], metadata["revision"]) == (
        "ServerlessFunction",
        "functions.scorer:score",
        head,
    )
    # The model deployment next to it is always on, the function routed: both healthy.
    health = delivery.providers()["local"].health("staging", [SERVICE, name])
    assert health[SERVICE].reason == "ok" and health[name].ok

    # `alignops down` stops all of it: the always-on process, the activator, the launcher.
    from typer.testing import CliRunner

    from alignops.cli import app
    from alignops.runtime.launcher import Launcher

    runtime = delivery.state_dir / "runtime"
    down = CliRunner().invoke(app, ["down", "--repo", str(delivery.repo.path), "-o", "json"])
    assert down.exit_code == 0, down.output
    stopped = json.loads(down.output)["stopped"]
    assert any(line.startswith(SERVICE) for line in stopped)
    assert "the activator and the services it had started" in stopped
    assert not processes.find(f"--spec {runtime.resolve()}/")
    assert Launcher(runtime).stop() == 0
    assert delivery.live() == {}
    healed = delivery.sync()  # and the next sync brings both back
    assert healed.outcome == "synced" and {a.service for a in healed.actions} == {SERVICE, name}
