"""The config repository through pygit2: revisions → :class:`Snapshot`, commits.

This is the only module that reads Git. A revision is anything ``git rev-parse``
understands (branch, tag, sha, ``HEAD~2``); no revision means the working tree, as it
is on disk, including uncommitted and untracked (not ignored) files.
"""

from __future__ import annotations

import getpass
import os
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, FileStatus

from alignops.errors import ManifestError, Problem, SourceError
from alignops.manifests.snapshot import Snapshot, build_snapshot, classify

__all__ = ["ConfigRepository", "default_signature"]

_WT_CHANGED = (
    FileStatus.WT_MODIFIED | FileStatus.WT_NEW | FileStatus.WT_TYPECHANGE | (FileStatus.WT_RENAMED)
)
_GONE = FileStatus.WT_DELETED


def default_signature() -> pygit2.Signature:
    """Who commits: ``ALIGNOPS_GIT_NAME``/``ALIGNOPS_GIT_EMAIL`` or the OS user."""
    name = os.environ.get("ALIGNOPS_GIT_NAME") or getpass.getuser() or "alignops"
    email = os.environ.get("ALIGNOPS_GIT_EMAIL") or f"{name}@localhost"
    return pygit2.Signature(name, email)


class ConfigRepository:
    """A config repository on disk (a Git working tree)."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        found = pygit2.discover_repository(str(path))
        if found is None:
            raise SourceError(f"{path}: not inside a Git repository")
        self._repo = pygit2.Repository(found)
        if self._repo.is_bare or self._repo.workdir is None:
            raise SourceError(f"{path}: a bare repository has no working tree")
        self.root = Path(self._repo.workdir).resolve()

    @classmethod
    def init(cls, path: str | os.PathLike[str], *, branch: str = "main") -> ConfigRepository:
        """Create a new repository with ``branch`` as its unborn default branch."""
        pygit2.init_repository(str(path), initial_head=branch)
        return cls(path)

    # -- reading -------------------------------------------------------------

    def resolve(self, revision: str) -> pygit2.Commit:
        """The commit a revision expression names."""
        try:
            obj = self._repo.revparse_single(revision)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise SourceError(f"unknown revision {revision!r} in {self.root}") from None
        return commit

    def head(self) -> str:
        """The HEAD commit id, or '' before the first commit."""
        if self._repo.head_is_unborn:
            return ""
        return str(self._repo.head.target)

    def branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached."""
        if self._repo.head_is_detached:
            return None
        return self._repo.references["HEAD"].target.removeprefix("refs/heads/")  # type: ignore[union-attr]

    def snapshot(self, revision: str | None = None) -> Snapshot:
        """The snapshot of a revision, or of the working tree when ``revision`` is None."""
        if revision is None:
            files, read = self._worktree_files()
            return build_snapshot(
                revision=self.head(), label="worktree", worktree=True, files=files, read=read
            )
        commit = self.resolve(revision)
        files, read = self._commit_files(commit)
        return build_snapshot(
            revision=str(commit.id), label=revision, worktree=False, files=files, read=read
        )

    def _blob(self, oid: str) -> bytes:
        blob = self._repo[oid]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)

    def _commit_files(self, commit: pygit2.Commit) -> tuple[dict[str, str], Callable[[str], bytes]]:
        index = pygit2.Index()
        index.read_tree(commit.tree)
        files: dict[str, str] = {}
        links: dict[str, str] = {}
        for entry in index:
            if entry.mode == FileMode.COMMIT:
                continue
            if entry.mode == FileMode.LINK:
                links[entry.path] = self._blob(str(entry.id)).decode("utf-8", "replace")
            else:
                files[entry.path] = str(entry.id)
        self._resolve_links(files, links)

        def read(path: str) -> bytes:
            return self._blob(files[path])

        return files, read

    def _worktree_files(self) -> tuple[dict[str, str], Callable[[str], bytes]]:
        repo = self._repo
        files: dict[str, str] = {}
        links: dict[str, str] = {}
        for entry in repo.index:
            if entry.mode == FileMode.COMMIT:
                continue
            files[entry.path] = str(entry.id)
        for path, flags in repo.status(untracked_files="all").items():
            full = self.root / path
            if flags & _GONE or (not full.exists() and not full.is_symlink()):
                files.pop(path, None)
            elif flags & _WT_CHANGED or flags & FileStatus.INDEX_NEW:
                files.pop(path, None)
                if full.is_symlink():
                    links[path] = os.readlink(full)
                elif full.is_file():
                    files[path] = str(pygit2.hashfile(str(full)))
        for path in [p for p in files if (self.root / p).is_symlink()]:
            links[path] = os.readlink(self.root / path)
            del files[path]
        real_paths = self._resolve_links(files, links)
        root = self.root

        def read(path: str) -> bytes:
            return (root / real_paths.get(path, path)).read_bytes()

        return files, read

    @staticmethod
    def _resolve_links(files: dict[str, str], links: Mapping[str, str]) -> dict[str, str]:
        """Symbolic links inside the repository read as their target; escapes are refused.

        Returns link path → target path for the links that were resolved.
        """
        targets: dict[str, str] = {}
        problems = []
        for path, target in sorted(links.items()):
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
                if classify(path, None) != "other":
                    problems.append(
                        Problem(path, f"symbolic link to {target!r} points outside the repository")
                    )
                continue
            if resolved in files:
                files[path] = files[resolved]
                targets[path] = resolved
        if problems:
            raise ManifestError("", problems=problems)
        return targets

    # -- writing -------------------------------------------------------------

    def commit_all(self, message: str, *, signature: pygit2.Signature | None = None) -> str:
        """Stage every change of the working tree (additions, edits, deletions) and commit."""
        repo = self._repo
        index = repo.index
        index.add_all()
        index.write()
        tree = index.write_tree()
        sig = signature or default_signature()
        parents = [] if repo.head_is_unborn else [repo.head.target]
        ref = "HEAD"
        oid = repo.create_commit(ref, sig, sig, message, tree, parents)
        return str(oid)
