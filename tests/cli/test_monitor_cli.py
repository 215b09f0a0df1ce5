"""``alignops monitor status`` and ``alignops monitor run``: what they print, their
JSON, their exit codes; the loop stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.monitor.alerting_world import (
    HOUR,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)


def _recent(world: World) -> None:
    """Window 0 two hours ago, so the real clock has closed windows 0 and 1."""
    world.start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * HOUR


def test_status_shows_windows_rules_and_what_is_not_watched(world: World, cli: Any) -> None:
    _recent(world)
    world.traffic(0, shift=2.0)
    world.traffic(1, requests=10)
    world.traffic(2)  # the current hour: still open
    repo = str(world.repo.path)
    text = cli("monitor", "status", "--env", "production", "--repo", repo)
    assert text.exit_code == 0, text.stderr
    out = text.stdout
    assert "production at" in out and "scorer-api" in out
    assert "rule scorer-watch/data-drift-monitoring: psi > 0.1" in out
    assert "not watched live: PerformanceThreshold" in out
    for state in ("judged", "too few requests", "open"):
        assert state in out
    assert "x1" in out  # the feature with the largest PSI
    assert "added 3 telemetry segments" in text.stderr
    data = json.loads(cli("monitor", "status", "-o", "json", "--repo", repo).stdout)
    assert [e["environment"] for e in data["environments"]] == ["staging", "production"]
    (row,) = data["environments"][1]["deployments"]
    newest, middle, oldest = row["windows"]
    assert [newest["state"], middle["state"], oldest["state"]] == [
        "open",
        "too few requests",
        "judged",
    ]
    assert oldest["maxPsi"]["feature"] == "x1" and oldest["maxPsi"]["value"] > 0.1
    assert oldest["requests"] == 1000 and oldest["p95"] is not None
    assert row["alerts"] == []  # status judges nothing


def test_run_once_opens_once_and_says_what_it_did(world: World, cli: Any) -> None:
    _recent(world)
    world.traffic(0, shift=2.0)
    repo = str(world.repo.path)
    first = cli("monitor", "run", "--once", "--repo", repo)
    assert first.exit_code == 0, first.stderr
    assert "1 judged" not in first.stdout  # two rules: drift and fairness
    assert "2 judged · 1 opened · 0 updated · 0 resolved" in first.stdout
    assert "notifications: 2 sent" in first.stdout
    second = cli("monitor", "run", "--once", "-o", "json", "--repo", repo)
    report = json.loads(second.stdout)
    assert report["counts"]["opened"] == 0 and report["counts"]["sent"] == 0
    assert len(world.slack.requests) == 1


def test_run_once_exits_1_when_the_tick_had_a_problem(world: World, cli: Any) -> None:
    _recent(world)
    policy = world.repo.path / "policies/scorer-watch.yaml"
    world.configure(
        extra={
            "policies/scorer-watch.yaml": policy.read_text().replace(
                "#ml-alerts\n      severity", "#nobody\n      severity"
            )
        }
    )
    world.traffic(0, shift=2.0)
    run = cli("monitor", "run", "--once", "--repo", str(world.repo.path))
    assert run.exit_code == 1
    assert "slack://#nobody" in run.stderr and "no AlertRoute declares" in run.stderr


def test_run_stops_on_sigterm(world: World) -> None:
    env = {**os.environ, "ALIGNOPS_REPO": str(world.repo.path)}
    exe = Path(sys.executable).with_name("alignops")
    process = subprocess.Popen(
        [str(exe), "monitor", "run", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " monitor: " in line
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "SIGTERM" in stderr and "stopped" in stderr
