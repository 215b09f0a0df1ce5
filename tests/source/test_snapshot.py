"""Snapshots of a real Git repository: revisions, the working tree, what they refuse."""

from __future__ import annotations

import os

import pygit2
import pytest

from alignops.errors import ManifestError, SourceError
from alignops.source import ConfigRepository
from tests.conftest import Repo


def test_snapshot_by_branch_tag_sha_and_expression(repo: Repo) -> None:
    first = repo.git.head()
    repo.function("report", 256)
    second = repo.commit("add report")
    raw = pygit2.Repository(str(repo.path))
    raw.references.create("refs/tags/v1", pygit2.Oid(hex=first))
    assert "ServerlessFunction/report" in repo.git.snapshot("main").resources
    assert "ServerlessFunction/report" in repo.git.snapshot(second).resources
    assert "ServerlessFunction/report" in repo.git.snapshot(second[:10]).resources
    assert "ServerlessFunction/report" not in repo.git.snapshot("v1").resources
    assert "ServerlessFunction/report" not in repo.git.snapshot("HEAD~1").resources
    assert repo.git.snapshot("HEAD~1").revision == first


def test_snapshot_metadata(repo: Repo) -> None:
    snapshot = repo.git.snapshot("HEAD")
    assert snapshot.revision == repo.git.head()
    assert snapshot.label == "HEAD" and not snapshot.worktree
    assert len(snapshot.digest) == 64
    assert [m.path for m in snapshot.policies] == [
        "policies/labels.rego",
        "policies/serverless.rego",
        "policies/serverless_test.rego",
    ]
    assert {r.kind for r in snapshot.resources.values()} == {
        "ServerlessFunction",
        "ModelDeploymentPolicy",
        "Budget",
        "AlertRoute",
    }


def test_same_content_same_digest(repo: Repo) -> None:
    assert repo.git.snapshot("HEAD").digest == repo.git.snapshot(None).digest
    repo.function("report", 256)
    assert repo.git.snapshot(None).digest != repo.git.snapshot("HEAD").digest


def test_worktree_sees_uncommitted_untracked_and_deleted_files(repo: Repo) -> None:
    repo.function("untracked", 128)
    (repo.path / "functions/scorer.yaml").write_text(
        (repo.path / "functions/scorer.yaml").read_text().replace("256", "300")
    )
    (repo.path / "alerts/routes.yaml").unlink()
    repo.write("finops/budgets.yaml", "")  # emptied: no documents
    snapshot = repo.git.snapshot(None)
    assert snapshot.worktree and snapshot.label == "worktree"
    assert "ServerlessFunction/untracked" in snapshot.resources
    assert snapshot.resources["ServerlessFunction/scorer"].manifest["spec"]["memory"] == 300
    assert "AlertRoute/ai-ops-alerts" not in snapshot.resources
    assert "alerts/routes.yaml" not in snapshot.files


def test_ignored_files_are_not_read(repo: Repo) -> None:
    repo.write(".alignops/junk.yaml", "not: [valid")
    repo.write("scratch/notes.yaml", "not: [valid")
    repo.write(".gitignore", ".alignops/\nscratch/\n")
    assert "scratch/notes.yaml" not in repo.git.snapshot(None).files


def test_unknown_revision(repo: Repo) -> None:
    with pytest.raises(SourceError, match="unknown revision 'nope'"):
        repo.git.snapshot("nope")


def test_not_a_repository(tmp_path: object) -> None:
    with pytest.raises(SourceError, match="not inside a Git repository"):
        ConfigRepository(str(tmp_path))


def test_missing_config(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "r"
    git = ConfigRepository.init(path)
    (path / "x.yaml").write_text("a: 1\n")
    git.commit_all("x")
    with pytest.raises(ManifestError, match=r"alignops\.yaml: not found at HEAD"):
        git.snapshot("HEAD")


def test_errors_across_files_are_reported_together(repo: Repo) -> None:
    repo.write("functions/a.yaml", "kind: [\n")
    repo.function("b", 0)
    with pytest.raises(ManifestError) as info:
        repo.git.snapshot(None)
    files = [p.file for p in info.value.problems]
    assert files == ["functions/a.yaml", "functions/b.yaml"]


def test_duplicate_resource_ids(repo: Repo) -> None:
    repo.function("scorer-copy", 256)
    repo.write(
        "functions/scorer-copy.yaml",
        (repo.path / "functions/scorer.yaml").read_text(),
    )
    with pytest.raises(
        ManifestError,
        match=r"ServerlessFunction/scorer is already defined at functions/scorer-copy\.yaml:1",
    ):
        repo.git.snapshot(None)


def test_dangling_references(repo: Repo) -> None:
    repo.write(
        "models/d.yaml",
        "apiVersion: alignops.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: d}\n"
        "spec:\n  model: ghost\n  environment: moon\n",
    )
    with pytest.raises(ManifestError) as info:
        repo.git.snapshot(None)
    messages = [str(p) for p in info.value.problems]
    assert (
        "models/d.yaml:5: spec.model: refers to Model/ghost, which is not defined in the repository"
        in messages
    )
    assert any(
        m.startswith("models/d.yaml:6: spec.environment: unknown environment 'moon'")
        for m in messages
    )


def test_symlink_escaping_the_repository_is_refused(repo: Repo) -> None:
    outside = repo.path.parent / "outside.yaml"
    outside.write_text("apiVersion: alignops.dev/v1alpha1\n")
    os.symlink(outside, repo.path / "functions/evil.yaml")
    with pytest.raises(ManifestError, match="points outside the repository"):
        repo.git.snapshot(None)
    repo.commit("add link")
    with pytest.raises(ManifestError, match="points outside the repository"):
        repo.git.snapshot("HEAD")


def test_symlink_inside_the_repository_reads_its_target(repo: Repo) -> None:
    os.symlink("scorer.yaml", repo.path / "functions/alias.yml")
    # same resource twice, through the link: a duplicate, reported on the link's path
    with pytest.raises(ManifestError, match=r"functions/alias\.yml"):
        repo.git.snapshot(None)


def test_policy_data_files(repo: Repo) -> None:
    repo.write("policies/limits/data.yaml", "maxMemory: 512\n")
    snapshot = repo.git.snapshot(None)
    (data,) = snapshot.data_files
    assert data.data_path == ("limits",)
    assert data.document.value == {"maxMemory": 512}
