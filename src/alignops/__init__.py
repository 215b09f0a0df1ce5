"""alignops: a GitOps control plane for AI models.

The public API is what ``__all__`` lists; everything else may change.
"""

from alignops._version import __version__
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
