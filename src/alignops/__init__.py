"""alignops: a GitOps control plane for AI models.

The public API is what ``__all__`` lists; everything else may change. Names are imported
on first use (PEP 562), so ``import alignops.runtime`` or the CLI does not pay for the
gate, the audit log and SQLAlchemy unless it uses them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alignops._version import __version__

if TYPE_CHECKING:
    from alignops.audit import AuditLog
    from alignops.errors import (
        AlignOpsError,
        InputError,
        ManifestError,
        PolicyError,
        Problem,
        SourceError,
    )
    from alignops.gate import Finding, Verdict, check
    from alignops.manifests import KINDS, RepoConfig, Resource, Snapshot
    from alignops.policy import PolicySet
    from alignops.source import ConfigRepository, diff_snapshots
    from alignops.store import Database

_HOME = {
    "AuditLog": "alignops.audit",
    "AlignOpsError": "alignops.errors",
    "InputError": "alignops.errors",
    "ManifestError": "alignops.errors",
    "PolicyError": "alignops.errors",
    "Problem": "alignops.errors",
    "SourceError": "alignops.errors",
    "Finding": "alignops.gate",
    "Verdict": "alignops.gate",
    "check": "alignops.gate",
    "KINDS": "alignops.manifests",
    "RepoConfig": "alignops.manifests",
    "Resource": "alignops.manifests",
    "Snapshot": "alignops.manifests",
    "PolicySet": "alignops.policy",
    "ConfigRepository": "alignops.source",
    "diff_snapshots": "alignops.source",
    "Database": "alignops.store",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'alignops' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "KINDS",
    "AlignOpsError",
    "AuditLog",
    "ConfigRepository",
    "Database",
    "Finding",
    "InputError",
    "ManifestError",
    "PolicyError",
    "PolicySet",
    "Problem",
    "RepoConfig",
    "Resource",
    "Snapshot",
    "SourceError",
    "Verdict",
    "__version__",
    "check",
    "diff_snapshots",
]
