"""Manifest kinds, safe YAML loading, the repo config and :class:`Snapshot`."""

from alignops.manifests.base import KINDS, KindInfo, ResourceModel
from alignops.manifests.config import RepoConfig
from alignops.manifests.loader import Resource, load_config, load_manifests
from alignops.manifests.snapshot import Snapshot, build_snapshot

__all__ = [
    "KINDS",
    "KindInfo",
    "RepoConfig",
    "Resource",
    "ResourceModel",
    "Snapshot",
    "build_snapshot",
    "load_config",
    "load_manifests",
]
