"""The evidence store: results addressed by the digests of what produced them.

An evidence key is the SHA-256 of the check's name and configuration, the digests of the
model artifact and datasets, and the versions of alignops and the libraries that compute
it. The same key always means the same numbers, so a result is computed once:

- locally, under ``.alignops/evidence/<key>/`` (``result.json`` and artifacts such as
  ``explainability.pdf``) — a cache hit costs a file read;
- in the config repository, on the ref ``refs/alignops/evidence``: every result and
  artifact under ``evidence/<key>/``, and for each gated commit an index
  ``revisions/<commit>.json`` naming the evidence it was gated on. Push the ref to share
  evidence with CI and colleagues (``git push origin refs/alignops/evidence``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["EVIDENCE_REF", "EvidenceStore", "RefBackend", "StoredEvidence"]

EVIDENCE_REF = "refs/alignops/evidence"


class RefBackend(Protocol):
    """Read and write files on a Git ref (``alignops.source.ConfigRepository``)."""

    def read_ref_file(self, ref: str, path: str) -> bytes | None: ...

    def write_ref_files(self, ref: str, files: Mapping[str, bytes], message: str) -> str: ...


@dataclass(frozen=True)
class StoredEvidence:
    key: str
    result: dict[str, Any]
    artifacts: tuple[str, ...] = field(default=())


_BLOB = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class EvidenceStore:
    """Local cache plus, when a repository is given, the evidence ref."""

    def __init__(self, cache_dir: Path | None = None, *, repository: RefBackend | None = None):
        self.cache_dir = cache_dir
        self.repository = repository
        self._memory: dict[str, tuple[dict[str, Any], dict[str, bytes]]] = {}
        self._verified: dict[str, str] = {}

    # -- digests of Git blobs, verified once --------------------------------------------
    #
    # A Git blob id is a hash of the blob's content (SHA-1 with collision detection), so
    # the SHA-256 a pinned file was verified to have holds for as long as its blob id is
    # the same: a cache hit in a new process need not read and hash the model and data
    # files again. Kept under ``<cache>/verified/<blob id>``.

    def verified_sha256(self, blob: str) -> str | None:
        """The SHA-256 of a blob verified earlier, if any."""
        known = self._verified.get(blob)
        if known is None and self.cache_dir is not None and _BLOB.fullmatch(blob):
            try:
                text = (self.cache_dir / "verified" / blob).read_text().strip()
            except OSError:
                return None
            if _SHA256.fullmatch(text):
                known = self._verified[blob] = text
        return known

    def remember_sha256(self, blob: str, sha256: str) -> None:
        self._verified[blob] = sha256
        if self.cache_dir is None or not _BLOB.fullmatch(blob):
            return
        folder = self.cache_dir / "verified"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{blob}.tmp"
        tmp.write_text(sha256)
        tmp.replace(folder / blob)

    def get(self, key: str) -> StoredEvidence | None:
        if key in self._memory:
            result, artifacts = self._memory[key]
            return StoredEvidence(key, result, tuple(artifacts))
        if self.cache_dir is not None:
            folder = self.cache_dir / key
            result_file = folder / "result.json"
            if result_file.is_file():
                result = json.loads(result_file.read_text())
                names = tuple(sorted(p.name for p in folder.iterdir() if p.name != "result.json"))
                return StoredEvidence(key, result, names)
        if self.repository is not None:
            raw = self.repository.read_ref_file(EVIDENCE_REF, f"evidence/{key}/result.json")
            if raw is not None:
                result = json.loads(raw)
                names = tuple(result.get("artifacts", []))
                artifacts = {
                    n: self.repository.read_ref_file(EVIDENCE_REF, f"evidence/{key}/{n}") or b""
                    for n in names
                }
                self._save_local(key, result, artifacts)
                return StoredEvidence(key, result, names)
        return None

    def artifact(self, key: str, name: str) -> bytes | None:
        if key in self._memory:
            return self._memory[key][1].get(name)
        if self.cache_dir is not None and (self.cache_dir / key / name).is_file():
            return (self.cache_dir / key / name).read_bytes()
        if self.repository is not None:
            return self.repository.read_ref_file(EVIDENCE_REF, f"evidence/{key}/{name}")
        return None

    def put(self, key: str, result: dict[str, Any], artifacts: Mapping[str, bytes]) -> None:
        result = {**result, "artifacts": sorted(artifacts)}
        self._memory[key] = (result, dict(artifacts))
        self._save_local(key, result, artifacts)

    def _save_local(self, key: str, result: dict[str, Any], artifacts: Mapping[str, bytes]) -> None:
        if self.cache_dir is None:
            return
        folder = self.cache_dir / key
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in artifacts.items():
            (folder / name).write_bytes(data)
        tmp = folder / "result.json.tmp"
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
        tmp.replace(folder / "result.json")  # written last: its presence means complete

    def record_revision(self, revision: str, index: list[dict[str, Any]]) -> None:
        """Version the evidence a commit was gated on with the commit, on the evidence ref."""
        if self.repository is None or not revision:
            return
        files: dict[str, bytes] = {
            f"revisions/{revision}.json": json.dumps(index, indent=2, sort_keys=True).encode()
        }
        for entry in index:
            key = entry["key"]
            stored = self.get(key)
            if stored is None:
                continue
            path = f"evidence/{key}/result.json"
            if self.repository.read_ref_file(EVIDENCE_REF, path) is None:
                files[path] = json.dumps(stored.result, indent=2, sort_keys=True).encode()
                for name in stored.artifacts:
                    data = self.artifact(key, name)
                    if data is not None:
                        files[f"evidence/{key}/{name}"] = data
        old = self.repository.read_ref_file(EVIDENCE_REF, f"revisions/{revision}.json")
        if old is not None and len(files) == 1 and old == files[f"revisions/{revision}.json"]:
            return  # nothing new
        self.repository.write_ref_files(EVIDENCE_REF, files, f"evidence for {revision[:12]}")

    def revision_index(self, revision: str) -> list[dict[str, Any]] | None:
        if self.repository is None:
            return None
        raw = self.repository.read_ref_file(EVIDENCE_REF, f"revisions/{revision}.json")
        return None if raw is None else list(json.loads(raw))
