"""Git: revisions of the config repository → snapshots; diffs; commits."""

from alignops.source.diff import ChangeSet, diff_snapshots
from alignops.source.repository import ConfigRepository

__all__ = ["ChangeSet", "ConfigRepository", "diff_snapshots"]
