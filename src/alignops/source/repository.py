"""The config repository through pygit2: revisions → :class:`Snapshot`, history, commits.

This is the only module that reads Git. A revision is anything ``git rev-parse``
understands (branch, tag, sha, ``HEAD~2``); no revision means the working tree, as it
is on disk, including uncommitted and untracked (not ignored) files.
"""

from __future__ import annotations

import getpass
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, FileStatus, SortMode

from alignops.errors import ManifestError, Problem, SourceError, UsageError
from alignops.manifests.snapshot import FileVersion, Snapshot, build_snapshot, classify

__all__ = ["ConfigRepository", "default_signature"]

_WT_CHANGED = (
    FileStatus.WT_MODIFIED | FileStatus.WT_NEW | FileStatus.WT_TYPECHANGE | FileStatus.WT_RENAMED
)
_GONE = FileStatus.WT_DELETED


def default_signature() -> pygit2.Signature:
    """Who commits: ``ALIGNOPS_GIT_NAME``/``ALIGNOPS_GIT_EMAIL`` or the OS user."""
    name = os.environ.get("ALIGNOPS_GIT_NAME") or getpass.getuser() or "alignops"
    email = os.environ.get("ALIGNOPS_GIT_EMAIL") or f"{name}@localhost"
    return pygit2.Signature(name, email)


class _RevisionView:
    """The files of one commit, and the history behind it (a :class:`SourceReader`)."""

    def __init__(self, repo: ConfigRepository, commit: pygit2.Commit | None, files: dict[str, str]):
        self._repo = repo
        self._commit = commit
        self._files = files

    def read(self, path: str) -> bytes:
        return self._repo.blob(self._files[path])

    def blob(self, oid: str) -> bytes:
        return self._repo.blob(oid)

    def history(self, path: str) -> list[FileVersion]:
        return self._repo.file_history(path, self._commit) if self._commit else []


class _WorktreeView(_RevisionView):
    """The working tree: files read from disk, history from HEAD plus the local change."""

    def __init__(self, repo: ConfigRepository, files: dict[str, str], links: dict[str, str]):
        head = None if repo.raw.head_is_unborn else repo.raw.head.peel(pygit2.Commit)
        super().__init__(repo, head, files)
        self._links = links

    def read(self, path: str) -> bytes:
        return (self._repo.root / self._links.get(path, path)).read_bytes()

    def blob(self, oid: str) -> bytes:
        for path, file_oid in self._files.items():
            if file_oid == oid and (self._repo.root / path).exists():
                return self.read(path)
        return self._repo.blob(oid)

    def history(self, path: str) -> list[FileVersion]:
        committed = super().history(path)
        current = self._files.get(path)
        latest = committed[0].oid if committed else None
        if current == latest:
            return committed
        sig = self._repo.committer()
        local = FileVersion("worktree", sig.name, sig.email, current)
        return [local, *committed]


class ConfigRepository:
    """A config repository on disk (a Git working tree)."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        found = pygit2.discover_repository(str(path))
        if found is None:
            raise SourceError(f"{path}: not inside a Git repository")
        self.raw = pygit2.Repository(found)
        if self.raw.is_bare or self.raw.workdir is None:
            raise SourceError(f"{path}: a bare repository has no working tree")
        self.root = Path(self.raw.workdir).resolve()

    @classmethod
    def init(cls, path: str | os.PathLike[str], *, branch: str = "main") -> ConfigRepository:
        """Create a new repository with ``branch`` as its unborn default branch."""
        pygit2.init_repository(str(path), initial_head=branch)
        return cls(path)

    # -- reading -------------------------------------------------------------

    def resolve(self, revision: str) -> pygit2.Commit:
        """The commit a revision expression names."""
        try:
            obj = self.raw.revparse_single(revision)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise SourceError(f"unknown revision {revision!r} in {self.root}") from None
        return commit

    def head(self) -> str:
        """The HEAD commit id, or '' before the first commit."""
        if self.raw.head_is_unborn:
            return ""
        return str(self.raw.head.target)

    def branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached."""
        if self.raw.head_is_detached:
            return None
        target = self.raw.references["HEAD"].target
        return str(target).removeprefix("refs/heads/")

    def committer(self) -> pygit2.Signature:
        """The identity Git would commit as here (config), else :func:`default_signature`."""
        try:
            return self.raw.default_signature
        except (KeyError, pygit2.GitError):
            return default_signature()

    def blob(self, oid: str) -> bytes:
        obj = self.raw.get(oid)
        if not isinstance(obj, pygit2.Blob):
            raise SourceError(f"no file content {oid} in {self.root}")
        return bytes(obj.data)

    def snapshot(self, revision: str | None = None) -> Snapshot:
        """The snapshot of a revision, or of the working tree when ``revision`` is None."""
        if revision is None:
            files, links = self._worktree_files()
            return build_snapshot(
                revision=self.head(),
                label="worktree",
                worktree=True,
                files=files,
                source=_WorktreeView(self, files, links),
            )
        commit = self.resolve(revision)
        files = self._commit_files(commit)
        return build_snapshot(
            revision=str(commit.id),
            label=revision,
            worktree=False,
            files=files,
            source=_RevisionView(self, commit, files),
        )

    def file_history(self, path: str, commit: pygit2.Commit) -> list[FileVersion]:
        """Each change of ``path`` on the first-parent line ending at ``commit``."""
        walker = self.raw.walk(commit.id, SortMode.TOPOLOGICAL)
        walker.simplify_first_parent()
        versions: list[FileVersion] = []
        newer: pygit2.Commit | None = None
        newer_oid: str | None = None
        for current in walker:
            oid = _entry_oid(current.tree, path)
            if newer is not None and oid != newer_oid:
                versions.append(
                    FileVersion(str(newer.id), newer.author.name, newer.author.email, newer_oid)
                )
            newer, newer_oid = current, oid
        if newer is not None and newer_oid is not None:
            versions.append(
                FileVersion(str(newer.id), newer.author.name, newer.author.email, newer_oid)
            )
        return versions

    def _commit_files(self, commit: pygit2.Commit) -> dict[str, str]:
        index = pygit2.Index()
        index.read_tree(commit.tree)
        files: dict[str, str] = {}
        links: dict[str, str] = {}
        for entry in index:
            if entry.mode == FileMode.COMMIT:
                continue
            if entry.mode == FileMode.LINK:
                links[entry.path] = self.blob(str(entry.id)).decode("utf-8", "replace")
            else:
                files[entry.path] = str(entry.id)
        _resolve_links(files, links)
        return files

    def _worktree_files(self) -> tuple[dict[str, str], dict[str, str]]:
        repo = self.raw
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
        return files, _resolve_links(files, links)

    # -- writing -------------------------------------------------------------

    def commit_all(self, message: str, *, signature: pygit2.Signature | None = None) -> str:
        """Stage every change of the working tree (additions, edits, deletions) and commit."""
        repo = self.raw
        index = repo.index
        index.add_all()
        index.write()
        tree = index.write_tree()
        sig = signature or default_signature()
        parents = [] if repo.head_is_unborn else [repo.head.target]
        return str(repo.create_commit("HEAD", sig, sig, message, tree, parents))

    def read_ref_file(self, ref: str, path: str) -> bytes | None:
        """A file of the tree a non-branch ref (such as the evidence ref) points at."""
        try:
            commit = self.raw.references[ref].peel(pygit2.Commit)
        except (KeyError, pygit2.GitError):
            return None
        oid = _entry_oid(commit.tree, path)
        return self.blob(oid) if oid else None

    def write_ref_files(self, ref: str, files: Mapping[str, bytes], message: str) -> str:
        """Commit ``files`` (added or replaced) on ``ref`` without touching the working tree
        or the index; the ref's earlier files stay."""
        repo = self.raw
        parent: pygit2.Commit | None
        try:
            parent = repo.references[ref].peel(pygit2.Commit)
        except (KeyError, pygit2.GitError):
            parent = None
        index = pygit2.Index()
        if parent is not None:
            index.read_tree(parent.tree)
        for path, data in files.items():
            oid = repo.create_blob(data)
            index.add(pygit2.IndexEntry(path, oid, FileMode.BLOB))
        tree = index.write_tree(repo)
        sig = default_signature()
        parents = [parent.id] if parent is not None else []
        oid = repo.create_commit(None, sig, sig, message, tree, parents)
        repo.references.create(ref, oid, force=True)
        return str(oid)

    def create_branch(
        self, branch: str, files: Mapping[str, bytes], message: str, *, parent: str
    ) -> str:
        """Create ``branch`` with one commit on top of ``parent`` that adds or replaces
        ``files``; the working tree, the index and every other ref stay as they are.

        Atomic: the branch appears with its commit, or not at all. An existing
        ``branch`` is refused (:class:`SourceError`), never overwritten. Returns the
        commit id.
        """
        repo = self.raw
        ref = f"refs/heads/{branch}"
        if not pygit2.reference_is_valid_name(ref):
            raise SourceError(f"{branch!r} is not a valid branch name")
        if ref in repo.references:
            raise SourceError(f"branch {branch!r} already exists in {self.root}")
        base = self.resolve(parent)
        for path in files:
            if posixpath.normpath(path) != path or path.startswith(("/", "../")):
                raise SourceError(f"{path!r} is not a normalized path inside the repository")
        index = pygit2.Index()
        index.read_tree(base.tree)
        for path, data in sorted(files.items()):
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), FileMode.BLOB))
        tree = index.write_tree(repo)
        sig = default_signature()
        oid = repo.create_commit(None, sig, sig, message, tree, [base.id])
        try:
            repo.references.create(ref, oid, force=False)
        except (pygit2.AlreadyExistsError, pygit2.GitError) as exc:
            raise SourceError(f"cannot create branch {branch!r}: {exc}") from None
        return str(oid)

    def fetch(self, remote: str) -> None:
        """Update ``refs/remotes/<remote>/*`` from a remote configured in the repository
        (the working tree and local branches are not touched)."""
        try:
            handle = self.raw.remotes[remote]
        except KeyError:
            names = ", ".join(str(r.name) for r in self.raw.remotes) or "none"
            raise UsageError(f"no remote {remote!r} in {self.root} (remotes: {names})") from None
        try:
            handle.fetch()
        except (pygit2.GitError, OSError) as exc:
            # The remote's URL is not printed: it may hold a token.
            raise SourceError(f"cannot fetch remote {remote!r}: {exc}") from None

    def commit_files(
        self,
        branch: str,
        files: Mapping[str, bytes | None],
        message: str,
        *,
        parent: str | None = None,
    ) -> str:
        """Commit ``files`` (path → new content, or None to delete it) onto ``branch`` as a
        child of its tip; every other file stays as the tip has it. Returns the commit id.

        ``parent``: the tip the change was computed against; if the branch has moved on
        since, nothing is committed. If ``branch`` is checked out, the index and the
        working tree follow for those paths — refused (nothing changed) if any of them has
        uncommitted changes there.
        """
        repo = self.raw
        ref = f"refs/heads/{branch}"
        try:
            tip = repo.references[ref].peel(pygit2.Commit)
        except (KeyError, pygit2.GitError):
            raise SourceError(f"no branch {branch!r} in {self.root}") from None
        if parent is not None and str(tip.id) != parent:
            raise SourceError(
                f"branch {branch!r} moved from {parent[:12]} to {str(tip.id)[:12]} meanwhile; "
                "nothing was committed, try again"
            )
        for path in files:
            if posixpath.normpath(path) != path or path.startswith(("/", "../")):
                raise SourceError(f"{path!r} is not a normalized path inside the repository")
        checked_out = self.branch() == branch and not repo.head_is_unborn
        if checked_out:
            status = repo.status(untracked_files="all")
            dirty = sorted(p for p in files if p in status)
            if dirty:
                raise UsageError(
                    f"uncommitted changes to {', '.join(dirty)} in {self.root}; commit or "
                    "discard them first (nothing was committed)"
                )
        index = pygit2.Index()
        index.read_tree(tip.tree)
        modes: dict[str, FileMode] = {}
        for path, data in sorted(files.items()):
            if data is None:
                if path in index:
                    index.remove(path)
                continue
            try:
                modes[path] = FileMode(index[path].mode)
            except KeyError:
                modes[path] = FileMode.BLOB
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), modes[path]))
        tree = index.write_tree(repo)
        sig = default_signature()
        try:
            oid = repo.create_commit(ref, sig, sig, message, tree, [tip.id])
        except pygit2.GitError as exc:  # the branch moved between reading and writing it
            raise SourceError(f"cannot commit to {branch!r}: {exc}; try again") from None
        if checked_out:
            self._check_out(files, modes)
        return str(oid)

    def _check_out(self, files: Mapping[str, bytes | None], modes: Mapping[str, FileMode]) -> None:
        """Write ``files`` into the working tree and the index (after a commit of them)."""
        index = self.raw.index
        index.read()
        for path, data in files.items():
            full = self.root / path
            if data is None:
                full.unlink(missing_ok=True)
                if path in index:
                    index.remove(path)
                continue
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(data)
            if modes[path] == FileMode.BLOB_EXECUTABLE:
                full.chmod(0o755)
            index.add(path)
        index.write()


def _entry_oid(tree: pygit2.Tree, path: str) -> str | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    return str(entry.id) if entry.filemode != FileMode.TREE else None


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
