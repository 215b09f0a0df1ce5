"""``--base``: only resources affected by the change are evaluated."""

from __future__ import annotations

from alignops.gate import check
from tests.conftest import Repo


def test_only_changed_resources_are_checked(repo: Repo) -> None:
    for i in range(10):
        repo.function(f"fn-{i}", 128)
    base = repo.commit("ten functions")
    repo.function("fn-3", 2048)
    head = repo.commit("grow fn-3")
    verdict = check(repo.git.snapshot(head), base=repo.git.snapshot(base))
    assert verdict.resources_checked == ("ServerlessFunction/fn-3",)
    assert verdict.base == base
    assert [f.resource for f in verdict.denied] == ["ServerlessFunction/fn-3"]
    full = check(repo.git.snapshot(head))
    assert len(full.resources_checked) == len(repo.git.snapshot(head).resources)
    assert [f.resource for f in full.denied] == ["ServerlessFunction/fn-3"]


def test_an_unchanged_denied_resource_is_not_reported_again(repo: Repo) -> None:
    repo.function("old-big", 1024)
    base = repo.commit("an old problem")
    repo.function("new-small", 128)
    head = repo.commit("a fine change")
    verdict = check(repo.git.snapshot(head), base=repo.git.snapshot(base))
    assert verdict.outcome == "pass"
    assert verdict.resources_checked == ("ServerlessFunction/new-small",)
