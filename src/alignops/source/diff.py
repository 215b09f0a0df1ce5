"""What changed between two snapshots, and which resources a check must look at again."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from alignops.manifests.kinds import Dataset, Model, ModelDeploymentPolicy
from alignops.manifests.snapshot import Snapshot

__all__ = ["ChangeSet", "diff_snapshots"]


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Changes from ``base`` to ``head``."""

    changed_paths: frozenset[str]
    added: frozenset[str]
    modified: frozenset[str]
    removed: frozenset[str]
    rules_changed: bool
    """A policy module, a policy data file or ``alignops.yaml`` changed: every resource
    may have a new verdict."""
    affected: frozenset[str]
    """Resource ids of ``head`` to evaluate again."""

    @property
    def empty(self) -> bool:
        return not self.changed_paths


def diff_snapshots(base: Snapshot, head: Snapshot) -> ChangeSet:
    """Compare two snapshots by content ids and manifests; no Git access."""
    paths = {
        p for p in base.files.keys() | head.files.keys() if base.files.get(p) != head.files.get(p)
    }
    added = head.resources.keys() - base.resources.keys()
    removed = base.resources.keys() - head.resources.keys()
    modified = {
        rid
        for rid in head.resources.keys() & base.resources.keys()
        if head.resources[rid].manifest != base.resources[rid].manifest
    }
    rule_files = {m.path for m in (*base.policies, *head.policies)}
    rule_files |= {d.path for d in (*base.data_files, *head.data_files)}
    rules_changed = bool(paths & (rule_files | {"alignops.yaml"}))
    if rules_changed:
        affected = set(head.resources)
    else:
        changed = added | modified | _data_changed(head, paths)
        affected = _neighbours(head, changed, base, removed) | _gate_inputs(
            base, head, paths, changed | removed
        )
    return ChangeSet(
        changed_paths=frozenset(paths),
        added=frozenset(added),
        modified=frozenset(modified),
        removed=frozenset(removed),
        rules_changed=rules_changed,
        affected=frozenset(affected),
    )


def _neighbours(head: Snapshot, changed: set[str], base: Snapshot, removed: set[str]) -> set[str]:
    """Changed resources, the ones they refer to or that refer to them, and what changed
    waivers name."""
    touched = changed | removed
    out = set(changed)
    for rid, resource in head.resources.items():
        refs = {target for _, target in resource.model.references()}
        if rid in changed:
            out |= refs & head.resources.keys()
        elif refs & touched:
            out.add(rid)
    for snapshot in (base, head):
        for waiver in snapshot.of_kind("Exception"):
            if waiver.id in touched:
                patterns = waiver.manifest.get("spec", {}).get("resources", [])
                out |= {r for r in head.resources if any(fnmatchcase(r, p) for p in patterns)}
    return out & head.resources.keys()


def _data_changed(head: Snapshot, paths: set[str]) -> set[str]:
    """Models and datasets whose files (not manifests) changed: their digests must be
    checked again."""
    out = set()
    for rid, resource in head.resources.items():
        model = resource.model
        uri = None
        if isinstance(model, Model):
            uri = model.spec.artifact.uri
        elif isinstance(model, Dataset):
            uri = model.spec.uri
        if uri and any(p == uri or p.startswith(uri.rstrip("/") + "/") for p in paths):
            out.add(rid)
    return out


def _gate_inputs(base: Snapshot, head: Snapshot, paths: set[str], touched: set[str]) -> set[str]:
    """Models whose approvals, governance or selecting policies changed."""
    models = head.of_kind("Model")
    if any(p.startswith("governance/") for p in paths):
        return {m.id for m in models}
    out = set()
    approved = {p.split("/")[1] for p in paths if p.startswith("approvals/") and p.count("/") >= 2}
    out |= {m.id for m in models if m.name in approved}
    for snapshot in (base, head):
        for policy in snapshot.of_kind("ModelDeploymentPolicy"):
            if policy.id not in touched:
                continue
            mdp = policy.model
            assert isinstance(mdp, ModelDeploymentPolicy)
            for m in models:
                spec = m.model
                assert isinstance(spec, Model)
                if mdp.selects(spec.name, spec.spec.risk_level, spec.metadata.labels):
                    out.add(m.id)
    return out
