"""Which resources a change touches."""

from __future__ import annotations

from alignops.source import diff_snapshots
from tests.conftest import Repo


def test_edit_touches_only_the_edited_resource(repo: Repo) -> None:
    repo.function("a", 128)
    repo.function("b", 128)
    base = repo.commit("two functions")
    repo.function("a", 256)
    head = repo.commit("grow a")
    changes = diff_snapshots(repo.git.snapshot(base), repo.git.snapshot(head))
    assert changes.changed_paths == {"functions/a.yaml"}
    assert changes.modified == {"ServerlessFunction/a"}
    assert changes.affected == {"ServerlessFunction/a"}
    assert not changes.rules_changed


def test_added_and_removed(repo: Repo) -> None:
    base = repo.git.head()
    repo.function("new", 128)
    (repo.path / "alerts/routes.yaml").unlink()
    repo.write(
        "finops/budgets.yaml",
        (repo.path / "finops/budgets.yaml")
        .read_text()
        .replace("routes: [ai-ops-alerts]", "routes: []"),
    )
    head = repo.commit("swap")
    changes = diff_snapshots(repo.git.snapshot(base), repo.git.snapshot(head))
    assert changes.added == {"ServerlessFunction/new"}
    assert changes.removed == {"AlertRoute/ai-ops-alerts"}
    assert changes.affected == {"ServerlessFunction/new", "Budget/ai-platform-monthly"}


def test_policy_change_touches_everything(repo: Repo) -> None:
    base = repo.git.head()
    repo.write("policies/extra.rego", 'package extra\nimport rego.v1\nwarn contains "x" if false\n')
    head = repo.commit("policy")
    snapshot = repo.git.snapshot(head)
    changes = diff_snapshots(repo.git.snapshot(base), snapshot)
    assert changes.rules_changed
    assert changes.affected == set(snapshot.resources)


def test_no_change(repo: Repo) -> None:
    snapshot = repo.git.snapshot("HEAD")
    changes = diff_snapshots(snapshot, repo.git.snapshot(None))
    assert changes.empty and not changes.affected
