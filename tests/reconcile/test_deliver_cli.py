"""``alignops plan | sync | status | history`` as a person or a CI job runs them."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import BRIEF_MESSAGE
from tests.reconcile.conftest import Delivery, expected, metadata, predict, train

SERVICE = "ModelDeployment/scorer-api"


def test_plan_sync_status_history_and_a_refused_sync(delivery: Delivery, cli: Any) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    good = delivery.repo.git.head()

    planned = cli("plan", *repo, "-o", "json")
    assert planned.exit_code == 0, planned.stderr
    document = json.loads(planned.stdout)
    assert (document["environment"], document["revision"]) == ("staging", good)
    assert [(a["action"], a["service"], a["skipped"] is None) for a in document["actions"]] == [
        ("create", SERVICE, True),
    ]
    text = cli("plan", *repo)
    assert "1 to create · 0 to update · 0 to delete · 0 unchanged" in " ".join(text.stdout.split())

    synced = cli("sync", *repo)
    assert synced.exit_code == 0, synced.stdout + synced.stderr
    flat = " ".join(synced.stdout.split())
    assert "SYNCED 1 created · 0 updated · 0 deleted" in flat
    assert f"{good[:12]} → staging" in flat
    assert "gate: checking" in synced.stderr  # progress goes to stderr

    status = cli("status", *repo, "-o", "json")
    assert status.exit_code == 0, status.stderr
    rows = {r["service"]: r for r in json.loads(status.stdout)["services"]}
    service = rows[SERVICE]
    assert (service["revision"], service["healthy"], service["health"]) == (good, True, "ok")
    assert [(m["name"], m["version"]) for m in service["models"]] == [("scorer-v1", "1.0.0")]
    assert predict(service["url"])["predictions"] == expected(train(1))
    table = cli("status", *repo)
    assert str(service["pid"]) in table.stdout and good[:12] in table.stdout

    delivery.repo.function("scorer", 1024)
    delivery.repo.commit("a bigger function")
    refused = cli("sync", *repo, "--env", "staging")
    assert refused.exit_code == 1
    flat = " ".join(refused.stdout.split())
    assert "REFUSED" in flat and "the services running keep serving" in flat
    assert BRIEF_MESSAGE in flat
    again = {
        r["service"]: r for r in json.loads(cli("status", *repo, "-o", "json").stdout)["services"]
    }
    assert again[SERVICE]["pid"] == service["pid"]
    assert metadata(service["url"])["revision"] == good

    history = cli("history", *repo, "-o", "json")
    assert history.exit_code == 0
    entries = json.loads(history.stdout)
    assert [e["outcome"] for e in entries] == ["refused", "synced"]
    assert entries[0]["denials"][0]["message"] == BRIEF_MESSAGE
    assert entries[1]["counts"]["created"] == 1
    assert "refused" in cli("history", *repo).stdout

    verified = cli("audit", "verify", *repo)
    assert verified.exit_code == 0, verified.stdout


def test_input_errors_exit_2_and_change_nothing(delivery: Delivery, cli: Any) -> None:
    repo = ["--repo", str(delivery.repo.path)]
    unknown = cli("sync", *repo, "--env", "qa")
    assert unknown.exit_code == 2
    assert "unknown environment 'qa'; alignops.yaml defines staging, production" in unknown.stderr
    revision = cli("plan", "no-such-branch", *repo)
    assert revision.exit_code == 2
    assert "unknown revision 'no-such-branch'" in revision.stderr
    as_json = cli("sync", "no-such-branch", *repo, "-o", "json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"] == "SourceError"
    assert delivery.live() == {}
    empty = cli("history", *repo)
    assert (empty.exit_code, empty.stdout.strip()) == (0, "no syncs recorded yet")
