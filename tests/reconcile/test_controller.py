"""The controller, ``alignops server``, as an operator runs it: real server processes on a
real config repository, real service processes, push webhooks over real HTTP, SIGKILL."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pygit2
import pytest
from sqlalchemy import select

from alignops.audit import AuditLog
from alignops.reconcile.controller import interrupted_syncs
from alignops.reconcile.webhooks import (
    Push,
    WebhookReceiver,
    github_signature,
    parse_push,
    verify_github,
    verify_gitlab,
)
from alignops.runtime import processes
from alignops.store import Database
from alignops.store.schema import services
from tests.reconcile.conftest import (
    Delivery,
    expected,
    metadata,
    predict,
    stop_machine_helpers,
    train,
)

SERVICE = "ModelDeployment/scorer-api"
SECRET = "a webhook secret for tests"
TRIALS = 20

# -- signatures and payloads --------------------------------------------------------------

BODY = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()


def test_a_github_signature_holds_only_for_the_secret_and_the_exact_body() -> None:
    secret = SECRET.encode()
    good = github_signature(secret, BODY)
    assert good.startswith("sha256=") and len(good) == len("sha256=") + 64
    assert verify_github(secret, BODY, good)
    assert not verify_github(b"another secret", BODY, good)  # wrong secret
    assert not verify_github(secret, BODY.replace(b"main", b"mainx"), good)  # tampered body
    assert not verify_github(secret, BODY, None)  # no header
    assert not verify_github(secret, BODY, good.removeprefix("sha256="))  # no scheme
    assert not verify_github(b"", BODY, github_signature(b"", BODY))  # no secret, no trust


def test_a_gitlab_token_must_be_the_secret() -> None:
    secret = SECRET.encode()
    assert verify_gitlab(secret, SECRET)
    assert not verify_gitlab(secret, SECRET + " ")
    assert not verify_gitlab(secret, "guess")
    assert not verify_gitlab(secret, None)
    assert not verify_gitlab(b"", "")


def test_push_payloads_are_read_or_refused_with_the_reason() -> None:
    github = parse_push("github", BODY)
    assert github == Push("github", "refs/heads/main", "a" * 40)
    assert github.branch == "main"
    gitlab = parse_push(
        "gitlab",
        json.dumps(
            {"ref": "refs/heads/release/1", "checkout_sha": "b" * 40, "after": "c" * 40}
        ).encode(),
    )
    assert (gitlab.branch, gitlab.revision) == ("release/1", "b" * 40)
    tag = parse_push("github", json.dumps({"ref": "refs/tags/v1", "after": "d" * 40}).encode())
    assert tag.branch is None
    for body, problem in [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"after": "abc"}', "'ref' is missing"),
        (b'{"ref": 7}', "'ref' is missing or not a string"),
        (b"\xff\xfe", "the body is not JSON"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_push("github", body)


# -- the receiver on its own --------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, list[Any]]]:
    """A receiver on a free port whose loop is a list of what it was told."""
    calls: list[Any] = []

    def on_push(push: Push) -> list[str]:
        calls.append(push)
        return ["staging"] if push.branch == "main" else []

    server = WebhookReceiver(
        "127.0.0.1",
        0,
        secret=SECRET.encode(),
        on_push=on_push,
        on_rejected=lambda *args: calls.append(args),
        health=lambda: {"status": "ok", "ticks": 3},
    )
    server.start()
    try:
        yield server, calls
    finally:
        server.stop()


def signed(body: bytes, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": github_signature(secret.encode(), body),
        "Content-Type": "application/json",
    }


def test_the_receiver_answers_each_kind_of_request(
    receiver: tuple[WebhookReceiver, list[Any]],
) -> None:
    server, calls = receiver
    url = server.url
    health = httpx.get(f"{url}/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "ticks": 3})

    ping = httpx.post(f"{url}/hooks/github", content=b"{}", headers=signed(b"{}", "ping"))
    assert (ping.status_code, ping.json()["status"]) == (200, "pong")
    issue = httpx.post(f"{url}/hooks/github", content=b"{}", headers=signed(b"{}", "issues"))
    assert (issue.status_code, issue.json()["status"]) == (202, "ignored")
    broken = httpx.post(f"{url}/hooks/github", content=b"{oops", headers=signed(b"{oops"))
    assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
    other = json.dumps({"ref": "refs/heads/feature", "after": "e" * 40}).encode()
    ignored = httpx.post(f"{url}/hooks/github", content=other, headers=signed(other))
    assert ignored.status_code == 202
    assert ignored.json() == {
        "status": "ignored",
        "message": "no environment watches refs/heads/feature",
    }
    accepted = httpx.post(f"{url}/hooks/github", content=BODY, headers=signed(BODY))
    assert accepted.status_code == 202
    assert accepted.json() == {"status": "accepted", "environments": ["staging"]}
    assert calls == [
        Push("github", "refs/heads/feature", "e" * 40),
        Push("github", "refs/heads/main", "a" * 40),
    ]

    calls.clear()
    wrong = httpx.post(f"{url}/hooks/github", content=BODY, headers=signed(BODY, secret="nope"))
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"error": "X-Hub-Signature-256 does not match"},
    )
    unsigned = httpx.post(f"{url}/hooks/github", content=BODY, headers={"X-GitHub-Event": "push"})
    assert (unsigned.status_code, unsigned.json()) == (
        401,
        {"error": "X-Hub-Signature-256 is missing"},
    )
    lab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"}
    assert httpx.post(f"{url}/hooks/gitlab", content=BODY, headers=lab).status_code == 401
    assert calls == [
        ("github", "X-Hub-Signature-256 does not match", "127.0.0.1"),
        ("github", "X-Hub-Signature-256 is missing", "127.0.0.1"),
        ("gitlab", "X-Gitlab-Token does not match", "127.0.0.1"),
    ]

    assert httpx.get(f"{url}/hooks/github").status_code == 405
    assert httpx.post(f"{url}/healthz", content=b"").status_code == 405
    assert httpx.post(f"{url}/hooks/bitbucket", content=b"").status_code == 404
    chunked = httpx.post(f"{url}/hooks/github", content=iter([BODY]), headers=signed(BODY))
    assert chunked.status_code == 411  # no Content-Length: not read


def test_without_a_secret_the_webhooks_answer_503() -> None:
    pushes: list[Push] = []
    server = WebhookReceiver(
        "127.0.0.1",
        0,
        secret=None,
        on_push=lambda p: pushes.append(p) or ["staging"],
        on_rejected=lambda *args: None,
        health=lambda: {"status": "ok"},
    )
    server.start()
    try:
        answer = httpx.post(f"{server.url}/hooks/github", content=BODY, headers=signed(BODY))
        assert answer.status_code == 503
        assert "no secret configured" in answer.json()["error"]
        gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": ""}
        assert (
            httpx.post(f"{server.url}/hooks/gitlab", content=BODY, headers=gitlab).status_code
            == 503
        )
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    assert pushes == []


# -- interrupted syncs in the audit log ---------------------------------------------------


def test_a_sync_started_and_never_ended_is_found(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    audit = AuditLog(db)

    def record(action: str, revision: str, **extra: Any) -> int:
        payload = {"environment": "staging", "revision": revision, **extra}
        return audit.append(action, "staging", payload).seq

    record("sync.started", "r1")
    record("sync.finished", "r1")
    cut = record("sync.started", "r2")  # killed: nothing ended it
    record("sync.started", "r3")
    record("sync.failed", "r3")
    audit.append("sync.started", "production", {"environment": "production", "revision": "r9"})
    last = record("sync.started", "r4")  # killed too
    assert [r.seq for r in interrupted_syncs(audit, "staging")] == [cut, last]
    assert [r.data["revision"] for r in interrupted_syncs(audit, "production")] == ["r9"]

    record("sync.interrupted", "r2", startedRecord=cut)
    assert [r.seq for r in interrupted_syncs(audit, "staging")] == [last]
    db.close()


# -- a real server ------------------------------------------------------------------------


class Server:
    """An ``alignops server -o json`` process: its ticks (JSON lines) and its log."""

    def __init__(self, repo: Path, *args: str, secret: str | None = SECRET) -> None:
        env = dict(os.environ)
        env.pop("ALIGNOPS_WEBHOOK_SECRET", None)
        if secret is not None:
            env["ALIGNOPS_WEBHOOK_SECRET"] = secret
        exe = Path(sys.executable).with_name("alignops")
        argv = [str(exe), "server", "--repo", str(repo), "--env", "staging", "-o", "json"]
        self.process = subprocess.Popen(
            [*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.ticks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log: list[str] = []
        self._logged = threading.Condition()
        threading.Thread(target=self._read_ticks, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_ticks(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.ticks.put(json.loads(line))

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._logged:
                self.log.append(line.rstrip("\n"))
                self._logged.notify_all()
        with self._logged:
            self.log.append("<exited>")
            self._logged.notify_all()

    def wait_log(self, text: str, timeout: float = 120) -> str:
        """The first line of the log holding ``text``."""
        with self._logged:
            found = self._logged.wait_for(
                lambda: any(text in line or line == "<exited>" for line in self.log), timeout
            )
            line = next((x for x in self.log if text in x), None)
        assert found and line is not None, f"no {text!r} in the log:\n" + "\n".join(self.log)
        return line

    def next_tick(self, timeout: float = 180) -> dict[str, Any]:
        try:
            return self.ticks.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("no tick reported; the log:\n" + "\n".join(self.log))

    @property
    def url(self) -> str:
        line = self.wait_log("listening on ")
        return line.split("listening on ", 1)[1].split()[0]

    def push(self, revision: str, branch: str = "main") -> httpx.Response:
        body = json.dumps({"ref": f"refs/heads/{branch}", "after": revision}).encode()
        return httpx.post(f"{self.url}/hooks/github", content=body, headers=signed(body))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def service_processes(delivery: Delivery) -> list[processes.ProcessInfo]:
    """Every running process of the service, recorded or not: its command line holds
    its spec file, in the service's folder."""
    folder = delivery.state_dir / "runtime" / "services" / "staging" / "modeldeployment-scorer-api"
    return processes.find(f"{folder}/")


def service_rows(delivery: Delivery) -> list[dict[str, Any]]:
    with delivery.db.transaction() as conn:
        query = select(services).where(services.c.name == SERVICE)
        return [dict(r._mapping) for r in conn.execute(query)]


class Servers:
    """Starts servers; whatever a test leaves running is killed afterwards."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.started: list[Server] = []

    def start(self, *args: str, secret: str | None = SECRET) -> Server:
        server = Server(self.delivery.repo.path, *args, secret=secret)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            if server.process.poll() is None:
                server.kill()
        # Service processes no row records (a server killed between starting one and
        # recording its pid) are not stopped by the delivery fixture: stop them here.
        for info in processes.find(str(self.delivery.state_dir / "runtime" / "services")):
            os.kill(info.pid, signal.SIGKILL)


@pytest.fixture
def servers(delivery: Delivery) -> Iterator[Servers]:
    started = Servers(delivery)
    try:
        yield started
    finally:
        started.close()


def done(tick: dict[str, Any], verb: str) -> list[str]:
    """The services a tick's sync applied ``verb`` to (none when it found all in sync)."""
    actions = tick["sync"]["actions"] if tick["sync"] else []
    return [a["service"] for a in actions if a["action"] == verb and a["ok"]]


def wait_gone(pid: int) -> None:
    for _ in range(400):
        if processes.inspect(pid) is None:
            return
        time.sleep(0.05)
    pytest.fail(f"pid {pid} still runs after SIGKILL")


def test_the_server_serves_controller_and_monitor_metrics(
    delivery: Delivery, servers: Servers
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    server = servers.start("--interval", "30", "--listen", "127.0.0.1:0")
    assert server.next_tick()["outcome"] == "synced"
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("alignops_controller_ticks_total", ())] >= 1
    synced = (
        "alignops_controller_syncs_total",
        (("environment", "staging"), ("outcome", "synced")),
    )
    assert samples[synced] == 1
    healthy = ("alignops_controller_services", (("environment", "staging"), ("health", "healthy")))
    assert samples[healthy] == 1
    assert any(name.startswith("alignops_monitor_") for name, _ in samples)


def test_a_killed_service_is_running_again_after_the_next_tick(
    delivery: Delivery, servers: Servers
) -> None:
    server = servers.start("--interval", "2", "--listen", "127.0.0.1:0")
    first = server.next_tick()
    assert (first["environment"], first["trigger"], first["outcome"]) == (
        "staging",
        "start",
        "synced",
    )
    assert first["revision"] == delivery.repo.git.head()
    assert SERVICE in done(first, "create")
    pid = delivery.pid(SERVICE)
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["status"] == "ok" and health["lastTick"] is not None
    assert health["environments"]["staging"]["outcome"] == "synced"
    assert health["watching"] == [
        {"environment": "staging", "branch": "main", "ref": "refs/heads/main"}
    ]

    # Nothing changed: the next tick finds the environment in sync and records nothing.
    records = len(delivery.audit.records())
    quiet = server.next_tick()
    assert (quiet["outcome"], quiet["sync"]) == ("in sync", None), json.dumps(quiet)
    assert len(delivery.audit.records()) == records
    assert delivery.pid(SERVICE) == pid

    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    killed_at = datetime.now(UTC)
    tick = server.next_tick()
    while datetime.fromisoformat(tick["at"]) < killed_at:  # began before the kill
        assert done(tick, "create") == []
        tick = server.next_tick()
    # The first tick that began after the kill healed it.
    assert (tick["trigger"], tick["outcome"]) == ("interval", "synced"), json.dumps(tick)
    (created,) = tick["sync"]["actions"]
    assert (created["service"], created["action"], created["reason"]) == (
        SERVICE,
        "create",
        "not running",
    )
    new = delivery.pid(SERVICE)
    assert new != pid
    assert predict(delivery.url(SERVICE))["predictions"] == expected(train(1))
    assert [p.pid for p in service_processes(delivery)] == [new]

    assert server.stop() == 0
    assert "SIGTERM: finishing the current sync, then stopping" in "\n".join(server.log)
    server.wait_log("<exited>")
    assert server.log[-2].endswith(" stopped")
    # The service outlives the controller: it is not a child that dies with it.
    assert processes.inspect(new) is not None
    assert delivery.audit.verify().ok
    assert len(delivery.audit.records(action="controller.started")) == 1


def test_a_signed_push_delivers_at_once_and_a_bad_signature_changes_nothing(
    delivery: Delivery, servers: Servers
) -> None:
    server = servers.start("--interval", "600", "--listen", "127.0.0.1:0")
    first = server.next_tick()
    assert first["outcome"] == "synced"
    old_url = delivery.url(SERVICE)

    delivery.deployment("scorer-api", "scorer-v1", memory=768)
    revision = delivery.repo.commit("more memory")
    body = json.dumps({"ref": "refs/heads/main", "after": revision}).encode()
    forged = httpx.post(
        f"{server.url}/hooks/github", content=body, headers=signed(body, secret="guessed")
    )
    assert forged.status_code == 401
    (rejected,) = delivery.audit.records(action="controller.webhook.rejected")
    assert rejected.data == {
        "source": "github",
        "reason": "X-Hub-Signature-256 does not match",
        "client": "127.0.0.1",
    }
    assert revision not in rejected.payload  # the body is not stored
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["ticks"] == 1  # not woken
    assert metadata(old_url)["revision"] == first["revision"]

    assert server.push(revision, branch="feature").json()["status"] == "ignored"
    accepted = server.push(revision)
    assert (accepted.status_code, accepted.json()["status"]) == (202, "accepted")
    tick = server.next_tick()  # long before the 600 s interval
    assert tick["trigger"] == f"github push {revision[:12]}"
    assert (tick["revision"], tick["outcome"]) == (revision, "synced"), json.dumps(tick)
    assert done(tick, "update") == [SERVICE]
    served = metadata(delivery.url(SERVICE))
    assert (served["revision"], served["limits"]["memoryMb"]) == (revision, 768)

    delivery.deployment("scorer-api", "scorer-v1", memory=640)
    newer = delivery.repo.commit("a little less")
    payload = json.dumps({"ref": "refs/heads/main", "checkout_sha": newer, "after": newer}).encode()
    hook = {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}
    bad = httpx.post(
        f"{server.url}/hooks/gitlab", content=payload, headers={**hook, "X-Gitlab-Token": "x"}
    )
    assert bad.status_code == 401
    good = httpx.post(
        f"{server.url}/hooks/gitlab", content=payload, headers={**hook, "X-Gitlab-Token": SECRET}
    )
    assert good.status_code == 202
    tick = server.next_tick()
    assert (tick["trigger"], tick["revision"]) == (f"gitlab push {newer[:12]}", newer)
    assert tick["outcome"] == "synced", json.dumps(tick)
    assert done(tick, "update") == [SERVICE]
    assert metadata(delivery.url(SERVICE))["limits"]["memoryMb"] == 640
    assert server.stop() == 0

    accepted_records = delivery.audit.records(action="controller.webhook.accepted")
    assert [(r.data["source"], r.data["revision"]) for r in accepted_records] == [
        ("gitlab", newer),
        ("github", revision),
    ]
    assert len(delivery.audit.records(action="controller.webhook.rejected")) == 2
    assert delivery.audit.verify().ok


def test_bad_arguments_change_nothing_and_once_runs_one_tick(delivery: Delivery, cli: Any) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    unknown = cli("server", *repo, "--env", "qa", "--once")
    assert unknown.exit_code == 2 and "unknown environment 'qa'" in unknown.stderr
    listen = cli("server", *repo, "--listen", "nowhere", "--env", "staging")
    assert listen.exit_code == 2 and "expected HOST:PORT" in listen.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = cli("server", *repo, "--listen", f"127.0.0.1:{port}", "--env", "staging")
    assert (
        busy.exit_code == 2 and f"--listen 127.0.0.1:{port}: Address already in use" in busy.stderr
    )
    assert delivery.audit.records() == []  # nothing was recorded, nothing synced

    once = cli("server", *repo, "--env", "staging", "--once")
    assert once.exit_code == 0, once.stdout + once.stderr
    flat = " ".join(once.stdout.split())
    assert f"staging {delivery.repo.git.head()[:12]} synced (once," in flat
    assert " created · 0 updated · 0 deleted · 0 unchanged" in flat
    assert SERVICE in delivery.live()


def test_with_a_remote_the_fetched_branch_is_delivered(delivery: Delivery, tmp_path: Path) -> None:
    """A controller on a clone delivers the remote's branch, fetched each tick — not the
    clone's own (stale) one."""
    clone = tmp_path / "clone"
    pygit2.clone_repository(str(delivery.repo.path), str(clone))
    exe = str(Path(sys.executable).with_name("alignops"))

    def once(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [exe, "server", "--once", "--env", "staging", "--repo", str(clone), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)

    unknown = once("--remote", "upstream")
    assert unknown.returncode == 2
    assert "no remote 'upstream'" in unknown.stderr and "(remotes: origin)" in unknown.stderr

    delivery.deployment("scorer-api", "scorer-v1", memory=768)
    pushed = delivery.repo.commit("pushed upstream after the clone")
    try:
        result = once("--remote", "origin", "-o", "json")
    finally:  # the delivery fixture stops the services (they are in its database)
        stop_machine_helpers(clone / ".alignops" / "runtime")
    assert result.returncode == 0, result.stdout + result.stderr
    tick = json.loads(result.stdout)
    assert (tick["revision"], tick["outcome"]) == (pushed, "synced")
    (row,) = service_rows(delivery)
    assert row["spec_path"].startswith(str(clone / ".alignops"))
    assert metadata(row["url"])["limits"]["memoryMb"] == 768
    assert str(pygit2.Repository(str(clone)).head.target) != pushed  # its main did not move


def flock_of(pid: int, lock: Path) -> str | None:
    """Whether ``pid`` holds (``holds``) or waits for (``waits``) the flock on ``lock``,
    from /proc/locks."""
    inode = os.stat(lock).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()[1:]
        waiting = fields[0] == "->"
        kind, _, _, owner, device = fields[1:6] if waiting else fields[:5]
        if kind == "FLOCK" and int(owner) == pid and int(device.rsplit(":", 1)[1]) == inode:
            return "waits" if waiting else "holds"
    return None


def until(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


def test_a_sync_another_process_is_applying_is_not_taken_for_an_interrupted_one(
    delivery: Delivery,
) -> None:
    """A controller starting while `alignops sync` applies waits for it: its sync is not
    recorded as interrupted, nothing is tidied from under it."""
    exe = str(Path(sys.executable).with_name("alignops"))
    repo = ["--env", "staging", "--repo", str(delivery.repo.path)]
    lock = delivery.state_dir / "runtime" / "lock"
    syncing = subprocess.Popen([exe, "sync", *repo], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    until(lambda: lock.exists() and flock_of(syncing.pid, lock) == "holds", "sync takes the lock")
    os.kill(syncing.pid, signal.SIGSTOP)  # in the middle of its apply, as long as we like
    try:
        while not database_free(delivery.db):  # not stopped inside a transaction
            os.kill(syncing.pid, signal.SIGCONT)
            time.sleep(0.01)
            os.kill(syncing.pid, signal.SIGSTOP)
        assert flock_of(syncing.pid, lock) == "holds"  # still applying
        starting = subprocess.Popen(
            [exe, "server", "--once", *repo, "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        until(lambda: flock_of(starting.pid, lock) == "waits", "the controller waits for the lock")
    finally:
        os.kill(syncing.pid, signal.SIGCONT)
    assert syncing.wait(timeout=300) == 0
    out, err = starting.communicate(timeout=300)
    assert starting.returncode == 0, out + err
    assert delivery.audit.records(action="sync.interrupted") == []
    assert delivery.audit.records(action="controller.recovered") == []
    tick = json.loads(out)
    assert (tick["outcome"], done(tick, "create")) == ("synced", [])  # the sync had done it
    assert_every_sync_ended(delivery.audit)


def database_free(db: Database) -> bool:
    """No other process is inside a write transaction of the state database."""
    probe = sqlite3.connect(str(db.engine.url.database), timeout=0.2, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # locked
        return False
    finally:
        probe.close()


# -- SIGKILL at random points of a sync ---------------------------------------------------


def assert_every_sync_ended(audit: AuditLog) -> None:
    """Each sync.started of staging is ended — sync.finished, sync.failed, or
    sync.interrupted naming it — before the next one starts."""
    current = None
    for record in sorted(audit.records(subject="staging"), key=lambda r: r.seq):
        if record.action == "sync.started":
            assert current is None, f"sync {current} never ended, yet sync {record.seq} began"
            current = record.seq
        elif record.action in ("sync.finished", "sync.failed"):
            assert current is not None, f"record {record.seq} ends no sync"
            current = None
        elif record.action == "sync.interrupted":
            assert record.data["startedRecord"] == current
            current = None
    assert current is None, f"sync {current} never ended"


def trail(audit: AuditLog, last: int = 40) -> str:
    """The newest records of the audit log, one line each (for failure messages)."""
    lines = []
    for record in reversed(audit.records(limit=last)):
        data = record.data
        detail = data.get("message") or data.get("outcome") or data.get("revision") or ""
        lines.append(f"{record.seq} {record.action} {record.subject} {str(detail)[:300]}")
    return "\n".join(lines)


def assert_converged(delivery: Delivery, tick: dict[str, Any], revision: str, memory: int) -> None:
    assert (tick["outcome"], tick["revision"]) == ("synced", revision), trail(delivery.audit)
    (row,) = service_rows(delivery)
    (process,) = service_processes(delivery)  # no duplicate, recorded or not
    assert (row["pid"], row["revision"], row["state"]) == (process.pid, revision, "serving")
    served = metadata(row["url"])
    assert (served["revision"], served["limits"]["memoryMb"]) == (revision, memory)
    assert predict(row["url"])["predictions"] == expected(train(1))
    report = delivery.audit.verify()
    assert report.ok, report.problems
    assert_every_sync_ended(delivery.audit)


def test_sigkill_at_random_points_of_a_sync_always_converges(
    delivery: Delivery, servers: Servers
) -> None:
    """Each trial: a commit changes the deployment, a webhook starts its sync, the
    server is SIGKILLed after a random delay spread over one sync; the next server
    (the next trial's) must converge on its first tick, before the next commit."""
    rng = random.Random(4021)
    args = ("--interval", "600", "--listen", "127.0.0.1:0")

    def commit(memory: int) -> str:
        delivery.deployment("scorer-api", "scorer-v1", memory=memory)
        return delivery.repo.commit(f"memory {memory}")

    # How long the sync of a changed deployment takes here, from the push.
    server = servers.start(*args)
    assert SERVICE in done(server.next_tick(), "create")
    revision, memory = commit(768), 768
    began = time.monotonic()
    assert server.push(revision).status_code == 202
    assert done(server.next_tick(), "update") == [SERVICE]
    one_sync = time.monotonic() - began
    server.kill()

    delays = []
    for trial in range(TRIALS):
        server = servers.start(*args)
        assert_converged(delivery, server.next_tick(), revision, memory)
        memory = 512 if trial % 2 == 0 else 768
        revision = commit(memory)
        delay = rng.uniform(0, one_sync * 1.1)
        assert server.push(revision).status_code == 202
        time.sleep(delay)
        server.kill()
        delays.append(delay)

    once = subprocess.run(
        [
            str(Path(sys.executable).with_name("alignops")),
            "server",
            "--once",
            "--env",
            "staging",
            "--repo",
            str(delivery.repo.path),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    assert_converged(delivery, json.loads(once.stdout), revision, memory)

    # Where the kills landed: the last record each interrupted sync wrote.
    interrupted = delivery.audit.records(action="sync.interrupted")
    steps = []
    records = sorted(delivery.audit.records(subject="staging"), key=lambda r: r.seq)
    for mark in interrupted:
        started = mark.data["startedRecord"]
        inside = [r.action for r in records if started <= r.seq < mark.seq]
        steps.append(inside[-1])
    print(f"one sync: {one_sync:.2f} s; delays {min(delays):.2f}–{max(delays):.2f} s")
    print(f"{len(interrupted)} of {TRIALS} kills interrupted a sync, after: {sorted(steps)}")
    assert interrupted, "no kill landed inside a sync: the trials tested nothing"
