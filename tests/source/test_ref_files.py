"""Files on a side ref (the evidence ref) and the history of one file."""

from __future__ import annotations

import subprocess

from tests.conftest import Repo


def test_ref_files_are_written_without_touching_branch_index_or_worktree(repo: Repo) -> None:
    head = repo.git.head()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo.path, capture_output=True, text=True
    ).stdout
    first = repo.git.write_ref_files("refs/alignops/test", {"a/one.json": b"1"}, "one")
    second = repo.git.write_ref_files("refs/alignops/test", {"b/two.bin": b"\x00\x01"}, "two")
    assert first != second
    assert repo.git.head() == head
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo.path, capture_output=True, text=True
        ).stdout
        == status
    )
    assert repo.git.read_ref_file("refs/alignops/test", "a/one.json") == b"1"  # kept
    assert repo.git.read_ref_file("refs/alignops/test", "b/two.bin") == b"\x00\x01"
    assert repo.git.read_ref_file("refs/alignops/test", "c/none") is None
    assert repo.git.read_ref_file("refs/alignops/absent", "a/one.json") is None
    # Plain git sees a normal commit chain on the ref.
    log = subprocess.run(
        ["git", "log", "--format=%s", "refs/alignops/test"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert log == ["two", "one"]


def test_replacing_a_ref_file(repo: Repo) -> None:
    repo.git.write_ref_files("refs/alignops/test", {"x": b"old"}, "one")
    repo.git.write_ref_files("refs/alignops/test", {"x": b"new"}, "two")
    assert repo.git.read_ref_file("refs/alignops/test", "x") == b"new"


def test_file_history_lists_each_change_newest_first_with_its_author(repo: Repo) -> None:
    repo.write("governance/groups.yaml", "v1\n")
    first = repo.commit("first")
    repo.write("README.md", "unrelated\n")
    repo.commit("unrelated")
    repo.write("governance/groups.yaml", "v2\n")
    second = repo.commit("second")
    (repo.path / "governance" / "groups.yaml").unlink()
    third = repo.commit("delete")
    history = repo.git.file_history("governance/groups.yaml", repo.git.resolve(third))
    assert [v.revision for v in history] == [third, second, first]
    assert history[0].oid is None
    assert [repo.git.blob(v.oid) for v in history[1:] if v.oid] == [b"v2\n", b"v1\n"]
    assert {v.author_email for v in history} == {"test@example.com"}
