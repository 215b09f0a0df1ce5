"""``alignops audit verify`` catches every way of rewriting history."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from alignops.audit import AuditLog
from alignops.store import Database
from alignops.store.schema import audit_head, audit_records


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(Database(f"sqlite:///{tmp_path / 'state.db'}"))
    for i in range(1, 6):
        audit.append("gate.verdict", f"rev{i}", {"outcome": "pass", "n": i}, actor="ci")
    return audit


def kinds(audit: AuditLog) -> set[str]:
    return {p.kind for p in audit.verify().problems}


def test_intact_chain_verifies(log: AuditLog) -> None:
    report = log.verify()
    assert report.ok and report.records == 5 and report.head_seq == 5
    assert [r.seq for r in log.records()] == [5, 4, 3, 2, 1]


def test_edited_record(log: AuditLog) -> None:
    with log.db.transaction() as conn:
        conn.execute(
            update(audit_records)
            .where(audit_records.c.seq == 3)
            .values(payload=json.dumps({"outcome": "deny", "n": 3}))
        )
    report = log.verify()
    assert not report.ok
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 3)]


def test_edited_record_with_recomputed_hash_breaks_the_link(log: AuditLog) -> None:
    from alignops.audit.log import record_hash

    with log.db.transaction() as conn:
        row = conn.execute(select(audit_records).where(audit_records.c.seq == 3)).one()
        forged = record_hash(
            3, row.recorded_at, "mallory", row.action, row.subject, row.payload, row.prev_hash
        )
        conn.execute(
            update(audit_records)
            .where(audit_records.c.seq == 3)
            .values(actor="mallory", hash=forged)
        )
    assert "reordered" in kinds(log)  # record 4 no longer follows record 3


def test_deleted_record(log: AuditLog) -> None:
    with log.db.transaction() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.seq == 2))
    report = log.verify()
    assert ("deleted", 2) in [(p.kind, p.seq) for p in report.problems]


def test_reordered_records(log: AuditLog) -> None:
    with log.db.transaction() as conn:
        rows = {r.seq: r._mapping for r in conn.execute(select(audit_records))}
        for seq, other in ((2, 4), (4, 2)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            conn.execute(update(audit_records).where(audit_records.c.seq == seq).values(**values))
    found = kinds(log)
    assert "reordered" in found or "edited" in found
    assert not log.verify().ok


def test_swapped_sequence_numbers(log: AuditLog) -> None:
    with log.db.transaction() as conn:
        conn.execute(text("UPDATE audit_records SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_records SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_records SET seq = 3 WHERE seq = -1"))
    assert not log.verify().ok


def test_truncated_log(log: AuditLog) -> None:
    with log.db.transaction() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.seq >= 4))
    report = log.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 4)]


def test_truncation_with_a_rewritten_head_needs_the_anchor(log: AuditLog) -> None:
    anchor = log.verify().head_hash
    with log.db.transaction() as conn:
        last = conn.execute(select(audit_records).where(audit_records.c.seq == 3)).one()
        conn.execute(delete(audit_records).where(audit_records.c.seq >= 4))
        conn.execute(update(audit_head).values(seq=3, hash=last.hash))
    assert log.verify().ok  # indistinguishable from a shorter log …
    report = log.verify(expect_head=anchor)  # … unless the old head was kept elsewhere
    assert [p.kind for p in report.problems] == ["truncated"]


def _append_many(url: str, worker: int) -> None:
    audit = AuditLog(Database(url))
    for i in range(15):
        audit.append("test.concurrent", f"w{worker}", {"i": i}, actor=f"worker-{worker}")


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    AuditLog(Database(url))  # migrate once
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = AuditLog(Database(url)).verify()
    assert report.ok and report.records == 60


def test_cli_verify_and_log(log: AuditLog, cli: Any, tmp_path: Path) -> None:
    url = str(log.db.engine.url)
    ok = cli("audit", "verify", "--db", url, "-o", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    listed = json.loads(cli("audit", "log", "--db", url, "-o", "json", "--limit", "2").stdout)
    assert [r["seq"] for r in listed] == [5, 4]
    with log.db.transaction() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.seq == 5))
    bad = cli("audit", "verify", "--db", url)
    assert bad.exit_code == 1 and "TAMPERED" in bad.stdout and "truncated" in bad.stdout


def test_every_check_is_audited(cli: Any, repo: Any) -> None:
    repo.function("big", 1024)
    assert cli("check", "--repo", str(repo.path)).exit_code == 1
    (record,) = json.loads(cli("audit", "log", "--repo", str(repo.path), "-o", "json").stdout)
    assert record["action"] == "gate.verdict"
    assert record["actor"] == "pytest"
    assert record["payload"]["outcome"] == "deny"
    assert record["payload"]["findings"][0]["resource"] == "ServerlessFunction/big"
