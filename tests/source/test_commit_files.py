"""Committing given files onto a branch: the tip's other files stay, a checked-out
branch's working tree follows, and uncommitted work is never overwritten."""

from __future__ import annotations

import pytest

from alignops.errors import SourceError, UsageError
from tests.conftest import Repo


def test_commit_on_the_checked_out_branch_updates_the_tree_and_index(repo: Repo) -> None:
    repo.function("a", 128)
    repo.function("b", 128)
    tip = repo.commit("two functions")
    files = {"functions/a.yaml": b"# replaced\n", "functions/b.yaml": None}

    commit = repo.git.commit_files("main", files, "swap a, drop b", parent=tip)

    assert repo.git.head() == commit
    assert [str(p) for p in repo.git.resolve(commit).parent_ids] == [tip]
    snapshot = repo.git.snapshot(commit)
    assert snapshot.read("functions/a.yaml") == b"# replaced\n"
    assert "functions/b.yaml" not in snapshot.files
    assert set(snapshot.files) - {"functions/a.yaml"} == set(repo.git.snapshot(tip).files) - {
        "functions/a.yaml",
        "functions/b.yaml",
    }
    assert (repo.path / "functions/a.yaml").read_bytes() == b"# replaced\n"
    assert not (repo.path / "functions/b.yaml").exists()
    assert repo.git.raw.status() == {}  # index and working tree agree with the commit


def test_commit_on_another_branch_leaves_the_working_tree_alone(repo: Repo) -> None:
    head = repo.git.head()
    repo.git.raw.branches.local.create("release", repo.git.resolve(head))
    (repo.path / "README.md").write_text("work in progress\n")  # uncommitted, unrelated

    commit = repo.git.commit_files("release", {"README.md": b"released\n"}, "release notes")

    assert repo.git.head() == head
    assert repo.git.snapshot("release").read("README.md") == b"released\n"
    assert str(repo.git.resolve("release").id) == commit
    assert (repo.path / "README.md").read_text() == "work in progress\n"


def test_uncommitted_changes_or_a_moved_branch_commit_nothing(repo: Repo) -> None:
    head = repo.git.head()
    (repo.path / "README.md").write_text("edited\n")
    repo.write("functions/new.yaml", "# untracked\n")
    files = {"README.md": b"x\n", "functions/new.yaml": b"y\n", "alignops.yaml": None}

    with pytest.raises(UsageError, match=r"uncommitted changes to README.md, functions/new.yaml"):
        repo.git.commit_files("main", files, "clobber")
    assert repo.git.head() == head
    assert (repo.path / "README.md").read_text() == "edited\n"

    with pytest.raises(SourceError, match="moved"):
        repo.git.commit_files("main", {"other.txt": b"z\n"}, "late", parent="0" * 40)
    with pytest.raises(SourceError, match="no branch 'nope'"):
        repo.git.commit_files("nope", {"other.txt": b"z\n"}, "nowhere")
    with pytest.raises(SourceError, match="inside the repository"):
        repo.git.commit_files("main", {"../escape.txt": b"z\n"}, "escape")
    assert repo.git.head() == head
