"""The local provider's rules that need no service process: who is the service (pid
reuse, zombies), what healthy means, what is refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from alignops.errors import ManifestError, UsageError
from alignops.reconcile.providers import PROVIDERS, LocalProvider, processes
from alignops.reconcile.providers.instances import Instance, judge
from alignops.reconcile.sync import plan_environment
from alignops.store.schema import services
from tests.reconcile.conftest import Delivery

SERVICE = "ModelDeployment/scorer-api"


def record(delivery: Delivery, *, pid: int, spec_path: str, start: str | None) -> None:
    provider = delivery.providers()["local"]
    row = {
        "instance": "f" * 32,
        "provider": "local",
        "target": "local",
        "environment": "staging",
        "name": SERVICE,
        "host": provider.machine,
        "state": "serving",
        "pid": pid,
        "process_start": start,
        "port": 1,
        "url": "http://127.0.0.1:1",
        "fingerprint": "0" * 64,
        "revision": "1" * 40,
        "settings": "{}",
        "spec_path": spec_path,
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    with delivery.db.transaction() as conn:
        conn.execute(insert(services).values(**row))


def test_the_registry_names_the_local_provider() -> None:
    assert PROVIDERS["local"] is LocalProvider


def test_a_reused_pid_is_not_the_service(delivery: Delivery) -> None:
    """The recorded pid now belongs to another process (this test's own): not live, and
    never signalled."""
    me = processes.inspect(os.getpid())
    assert me is not None
    spec = str(delivery.state_dir / "runtime" / "services" / "gone.json")
    record(delivery, pid=os.getpid(), spec_path=spec, start=me.start)
    assert delivery.live() == {}
    assert processes.stop(os.getpid(), me.start, spec, grace=0.1) == "gone"
    # The start time matters too: same pid and command line, another start → not ours.
    marker = me.command.split()[0]
    assert processes.owns(os.getpid(), me.start, marker)
    assert not processes.owns(os.getpid(), "1", marker)


def test_processes_are_read_through_ps_where_there_is_no_proc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proc = processes.inspect(os.getpid())
    monkeypatch.setattr(processes, "_PROC", False)
    ps = processes.inspect(os.getpid())
    assert proc is not None and ps is not None
    assert ps.command.split()[0] == proc.command.split()[0]
    assert processes.owns(os.getpid(), ps.start, ps.command.split()[0])
    assert not processes.owns(os.getpid(), "Thu Jan  1 00:00:00 1970", ps.command.split()[0])
    assert processes.inspect(2**22 + 7) is None


def test_an_exited_unreaped_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            stat = Path(f"/proc/{child.pid}/stat").read_text()
            if stat[stat.rfind(")") + 2] == "Z":
                break
            time.sleep(0.02)
        assert processes.inspect(child.pid) is None  # a zombie, not a running service
    finally:
        child.wait()


@pytest.mark.parametrize("proc", [True, False], ids=["proc", "ps"])
def test_a_process_is_found_by_its_marker_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proc: bool
) -> None:
    monkeypatch.setattr(processes, "_PROC", proc)
    marker = str(tmp_path / "marker-spec.json")
    child = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)", marker],
        log=tmp_path / "child.log",
        cwd=tmp_path,
    )
    try:
        for _ in range(200):
            if processes.find(marker):
                break
            time.sleep(0.02)
        (found,) = processes.find(marker)
        assert found.pid == child.pid
        assert processes.stop(found.pid, found.start, marker, grace=10) == "stopped"
        assert child.returncode is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _instance(**settings: object) -> Instance:
    return Instance.from_row(
        {
            "id": 1,
            "instance": "a" * 32,
            "name": SERVICE,
            "state": "serving",
            "pid": 4242,
            "process_start": "1",
            "port": 8080,
            "url": "http://127.0.0.1:8080",
            "fingerprint": "0" * 64,
            "revision": "1" * 40,
            "settings": json.dumps(settings),
            "spec_path": "/x.json",
            "started_at": "2026-01-01T00:00:00+00:00",
        }
    )


def test_what_healthy_means() -> None:
    model = {"name": "scorer-v1", "version": "1.0.0", "sha256": "a" * 64, "percent": 100}
    instance = _instance(models=[model])
    served = [{"name": "scorer-v1", "version": "1.0.0", "sha256": "a" * 64}]
    ok = {"status": "ok", "pid": 4242, "models": served}
    assert judge(instance, 200, ok, None).ok
    assert judge(instance, None, None, "Connection refused").reason == (
        "not answering on http://127.0.0.1:8080: Connection refused"
    )
    stranger = judge(instance, 200, {**ok, "pid": 99}, None)
    assert not stranger.ok and "answered by pid 99" in stranger.reason
    exceeded = judge(instance, 503, {**ok, "status": "memory-exceeded"}, None)
    assert (exceeded.ok, exceeded.reason) == (False, "/health says 'memory-exceeded' (HTTP 503)")
    other = judge(instance, 200, {**ok, "models": [{**served[0], "sha256": "b" * 64}]}, None)
    assert (other.ok, other.reason) == (False, "serves other model versions than were applied")
    assert not judge(instance, 200, ["not", "an", "object"], None).ok


def test_a_model_that_does_not_match_its_digest_is_never_started(delivery: Delivery) -> None:
    manifest = delivery.repo.path / "models" / "scorer-v1.yaml"
    text = manifest.read_text()
    pinned = text.split('sha256: "')[1][:64]
    manifest.write_text(text.replace(pinned, "0" * 64))
    delivery.repo.commit("pin another digest")  # no policy loads the model: the gate passes

    result = delivery.sync()
    assert (result.outcome, result.verdict) == ("failed", "pass")
    (failure,) = result.failures
    assert failure.error == "PermanentError"
    assert failure.message == (
        f"{SERVICE}: models/scorer-v1.skops has sha256 {pinned}, but Model/scorer-v1 pins "
        f"{'0' * 64}; not deploying it"
    )
    assert not (delivery.state_dir / "runtime" / "models" / ("0" * 64)).exists()
    assert not (delivery.state_dir / "runtime" / "models" / pinned).exists()
    assert result.health[SERVICE].reason == "not running"
    assert delivery.live() == {}


def test_a_target_whose_provider_is_not_built_is_planned_and_skipped(delivery: Delivery) -> None:
    config = delivery.repo.path / "alignops.yaml"
    config.write_text(
        config.read_text().replace(
            "targets:\n", "targets:\n  - name: cluster\n    provider: kubernetes\n"
        )
    )
    deployment = delivery.repo.path / "deployments" / "scorer-api.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "environment: staging", "environment: staging\n  target: cluster"
        )
    )
    delivery.repo.commit("deploy to the cluster")
    planned = plan_environment(delivery.snapshot(), "staging", delivery.providers())
    assert [(a.verb, a.name) for a in planned.plan.actions] == [("create", SERVICE)]
    assert planned.skipped[SERVICE] == "provider 'kubernetes' (target 'cluster') is not built yet"
    result = delivery.sync()
    assert (result.outcome, result.actions) == ("synced", ())
    assert set(result.skipped) == {SERVICE}


def test_invalid_target_settings_name_the_field(delivery: Delivery) -> None:
    config = delivery.repo.path / "alignops.yaml"
    config.write_text(
        config.read_text().replace(
            "    provider: local\n",
            "    provider: local\n    settings:\n      startTimeoutSeconds: 0\n      port: 80\n",
        )
    )
    delivery.repo.commit("bad settings")
    with pytest.raises(ManifestError) as raised:
        delivery.sync()
    text = str(raised.value)
    assert "target 'local': invalid settings for provider 'local'" in text
    assert "alignops.yaml: targets[local].settings.startTimeoutSeconds:" in text
    assert "alignops.yaml: targets[local].settings.port: Extra inputs are not permitted" in text
    (failed,) = delivery.audit.records(action="sync.failed")
    assert (failed.data["step"], failed.data["error"]) == ("load", "ManifestError")


def test_only_committed_revisions_are_synced(delivery: Delivery) -> None:
    from alignops.reconcile.sync import sync

    with pytest.raises(UsageError, match="sync deploys committed revisions only"):
        sync(
            delivery.repo.git.snapshot(None),
            environment="staging",
            context=delivery.context,
            audit=delivery.audit,
        )
