"""``Snapshot``: one revision of a config repository, parsed and validated, immutable.

Built from a map of paths to content ids and a :class:`SourceReader` that reads them, so
it does not know where the bytes come from (a Git tree, the working tree, a test). Only
``alignops.source`` builds snapshots from Git.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from alignops.errors import ManifestError, Problem
from alignops.manifests.config import CONFIG_FILE, RepoConfig
from alignops.manifests.documents import Document, format_path, parse_documents
from alignops.manifests.globs import glob_match
from alignops.manifests.kinds import ModelDeployment, ServerlessFunction
from alignops.manifests.loader import Resource, load_config, load_manifests

__all__ = [
    "DEFAULT_EXCLUDES",
    "DataFile",
    "FileRole",
    "FileVersion",
    "PolicyModule",
    "Snapshot",
    "SourceReader",
    "build_snapshot",
    "classify",
]

DEFAULT_EXCLUDES = (".*", "**/.*", ".*/**", "**/.*/**", "governance/**", "approvals/**")
"""YAML that is never a manifest: dot files and folders (CI config), governance, approvals."""

DATA_FILE_NAMES = ("data.json", "data.yaml", "data.yml")

FileRole = Literal["config", "policy", "data", "manifest", "other"]


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One change of a file in the history leading to a snapshot (newest first)."""

    revision: str
    """The commit that introduced this content ('worktree' for an uncommitted change)."""
    author_name: str
    author_email: str
    oid: str | None
    """Content id, or None where the change deleted the file."""


class SourceReader(Protocol):
    """Where a snapshot's bytes and history come from."""

    def read(self, path: str) -> bytes:
        """Content of a file of the snapshot."""

    def blob(self, oid: str) -> bytes:
        """Content by content id (any version the history names)."""

    def history(self, path: str) -> list[FileVersion]:
        """Changes of ``path`` along the first-parent history, newest first."""


@dataclass(frozen=True, slots=True)
class PolicyModule:
    """A Rego file of the snapshot."""

    path: str
    oid: str
    text: str


@dataclass(frozen=True, slots=True)
class DataFile:
    """A policy data file; its folder below the policy root is its place under ``data``."""

    path: str
    oid: str
    data_path: tuple[str, ...]
    document: Document = field(repr=False)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A revision of the config repository: config, resources, policies, data, files."""

    revision: str
    """Commit id, or the HEAD commit id for the working tree ('' before the first commit)."""
    label: str
    """What was asked for: a branch, tag, expression, or ``worktree``."""
    worktree: bool
    config: RepoConfig
    files: Mapping[str, str]
    """Every file path → content id (Git blob id)."""
    resources: Mapping[str, Resource]
    """Resources by ``Kind/name``, in file order."""
    policies: tuple[PolicyModule, ...]
    data_files: tuple[DataFile, ...]
    digest: str
    """SHA-256 over every path and content id: equal digests, equal content."""
    source: SourceReader = field(repr=False, compare=False)

    def read(self, path: str) -> bytes:
        """Bytes of any file of the snapshot (model artifacts, datasets, records)."""
        if path not in self.files:
            raise KeyError(path)
        return self.source.read(path)

    @property
    def short(self) -> str:
        base = self.revision[:12] or "(no commit)"
        return f"{base}+worktree" if self.worktree else base

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind == kind]


def classify(path: str, config: RepoConfig | None) -> FileRole:
    """What a file of the repository is to alignops."""
    if path == CONFIG_FILE:
        return "config"
    roots = config.policy.paths if config is not None else ["policies"]
    name = posixpath.basename(path)
    for root in roots:
        if path.startswith(root.rstrip("/") + "/"):
            if name.endswith(".rego"):
                return "policy"
            if name in DATA_FILE_NAMES:
                return "data"
    if not name.endswith((".yaml", ".yml")):
        return "other"
    excludes = (*DEFAULT_EXCLUDES, *(config.manifests.exclude if config is not None else ()))
    if any(glob_match(pattern, path) for pattern in excludes):
        return "other"
    return "manifest"


def build_snapshot(
    *,
    revision: str,
    label: str,
    worktree: bool,
    files: Mapping[str, str],
    source: SourceReader,
) -> Snapshot:
    """Parse and validate every file that matters; all problems reported at once."""
    if CONFIG_FILE not in files:
        raise ManifestError.single(
            CONFIG_FILE,
            f"not found at {label}: not an alignops config repository "
            "(create one with `alignops init DIR`)",
        )
    read = source.read
    config = load_config(CONFIG_FILE, read(CONFIG_FILE))
    problems: list[Problem] = []
    resources: dict[str, Resource] = {}
    policies: list[PolicyModule] = []
    data_files: list[DataFile] = []
    for path in sorted(files):
        role = classify(path, config)
        try:
            if role == "manifest":
                for resource in _parsed(path, files[path], read):
                    earlier = resources.get(resource.id)
                    if earlier is not None:
                        problems.append(
                            Problem(
                                path,
                                f"{resource.id} is already defined at "
                                f"{earlier.file}:{earlier.line}",
                                line=resource.line,
                                field="metadata.name",
                            )
                        )
                    else:
                        resources[resource.id] = resource
            elif role == "policy":
                policies.append(PolicyModule(path, files[path], _text(path, read(path))))
            elif role == "data":
                data_files.append(_data_file(path, files[path], read(path), config))
        except ManifestError as exc:
            problems.extend(exc.problems)
    if not problems:  # references into files that failed to load would only be noise
        problems.extend(_reference_problems(resources, config))
    if problems:
        raise ManifestError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {label}",
            problems=sorted(problems, key=lambda p: (p.file, p.line or 0)),
        )
    digest = hashlib.sha256(
        "".join(f"{p}\0{files[p]}\n" for p in sorted(files)).encode()
    ).hexdigest()
    return Snapshot(
        revision=revision,
        label=label,
        worktree=worktree,
        config=config,
        files=MappingProxyType(dict(files)),
        resources=MappingProxyType(resources),
        policies=tuple(policies),
        data_files=tuple(data_files),
        digest=digest,
        source=source,
    )


_PARSED: OrderedDict[tuple[str, str], tuple[Resource, ...]] = OrderedDict()
_PARSED_MAX = 20_000


def _parsed(path: str, oid: str, read: Callable[[str], bytes]) -> tuple[Resource, ...]:
    """Manifests of a file, parsed once per (path, content id) in this process: the
    snapshots of two revisions, or of successive controller polls, share the work."""
    key = (path, oid)
    found = _PARSED.get(key)
    if found is None:
        found = tuple(load_manifests(path, read(path)))
        _PARSED[key] = found
        if len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(key)
    return found


def _text(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError.single(path, "file is not valid UTF-8", line=line) from None


def _data_file(path: str, oid: str, data: bytes, config: RepoConfig) -> DataFile:
    docs = parse_documents(path, data)
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        raise ManifestError.single(path, "a data file must hold exactly one mapping", line=1)
    folder = posixpath.dirname(path)
    root = next(r.rstrip("/") for r in config.policy.paths if path.startswith(r.rstrip("/") + "/"))
    relative = folder[len(root) :].strip("/")
    data_path = tuple(relative.split("/")) if relative else ()
    return DataFile(path, oid, data_path, docs[0])


def _reference_problems(resources: Mapping[str, Resource], config: RepoConfig) -> Iterable[Problem]:
    environments = {e.name for e in config.environments}
    targets = {t.name for t in config.targets}
    for resource in resources.values():
        for field_path, target_id in resource.model.references():
            if target_id not in resources:
                yield Problem(
                    resource.file,
                    f"refers to {target_id}, which is not defined in the repository",
                    line=resource.line_of(field_path),
                    field=field_path,
                )
        if not isinstance(resource.model, ModelDeployment | ServerlessFunction):
            continue
        spec: Any = resource.model.spec
        for attr, known, what in (
            ("environment", environments, "environment"),
            ("target", targets, "target"),
        ):
            value = getattr(spec, attr, None)
            if value is not None and value not in known:
                yield Problem(
                    resource.file,
                    f"unknown {what} {value!r}; alignops.yaml defines "
                    f"{', '.join(sorted(known)) or 'none'}",
                    line=resource.line_of(f"spec.{attr}"),
                    field=format_path(("spec", attr)),
                )
