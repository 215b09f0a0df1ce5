"""Rollback through Git: a commit that restores a deployment's last compliant version.

A rollback never touches a running service. It commits, on the environment's branch, the
files that defined the deployment at an earlier revision — its ``ModelDeployment``
manifest, the ``Model`` manifests it serves (traffic split too) and the model files in
the repository those point to — so Git stays the source of truth and the next sync (or
the controller) deploys the old version like any other commit (decision 0022).

The version rolled back to is, unless ``to`` names one:

    the newest revision that a sync of the environment delivered (outcome ``synced`` or
    ``drifted``, verdict ``pass`` or ``warn``) at which the deployment's settings differ
    from the branch tip's — skipping settings that an earlier rollback rolled back from,
    unless they were delivered again after it.

Audit records (subject: the environment): ``rollback.started``, then
``rollback.committed`` (the commit, the files) or ``rollback.refused`` (why).
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from alignops.audit import AuditLog
from alignops.errors import AlignOpsError, UsageError
from alignops.evidence.store import EvidenceStore
from alignops.evidence.usage import save_usage
from alignops.gate import check
from alignops.manifests.kinds import Model, ModelDeployment
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.desired import DesiredService, desired_state
from alignops.reconcile.plan import describe_change, setting_changes
from alignops.source import ConfigRepository

__all__ = ["Rollback", "deployment_id", "rollback"]

_KIND = "ModelDeployment"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Rollback:
    """What a rollback committed (or why the gate refused the version asked for)."""

    deployment: str
    environment: str
    branch: str
    outcome: Literal["committed", "refused"]
    from_revision: str
    """The branch tip rolled back from."""
    to_revision: str
    """The revision whose version of the deployment is restored."""
    commit: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    """Path → ``restored`` or ``deleted``."""
    changes: tuple[tuple[str, Any, Any], ...] = ()
    """(setting, at the tip, restored)."""
    automatic: bool = False
    denials: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "environment": self.environment,
            "branch": self.branch,
            "outcome": self.outcome,
            "from": self.from_revision,
            "to": self.to_revision,
            "commit": self.commit,
            "files": dict(self.files),
            "changes": [{"setting": k, "from": a, "to": b} for k, a, b in self.changes],
            "automatic": self.automatic,
            "denials": list(self.denials),
        }


def deployment_id(name: str) -> str:
    """``fraud-api`` or ``ModelDeployment/fraud-api`` → ``ModelDeployment/fraud-api``."""
    kind, slash, rest = name.partition("/")
    if not slash:
        return f"{_KIND}/{name}"
    if kind != _KIND or not rest:
        raise UsageError(f"{name!r}: only a ModelDeployment rolls back (NAME or {_KIND}/NAME)")
    return name


def rollback(
    repository: ConfigRepository,
    deployment: str,
    environment: str,
    audit: AuditLog,
    to: str | None = None,
    *,
    automatic: bool = False,
    reason: str | None = None,
    evidence_store: EvidenceStore | None = None,
    progress: Callable[[str], None] = _quiet,
) -> Rollback:
    """Commit the revert of ``deployment`` to its last compliant version (or to ``to``,
    which must pass the gate) on the environment's branch; see the module docstring.

    Syncing is the caller's: the commit is an ordinary revision of the branch.
    Raises :class:`~alignops.errors.InputError` when there is nothing to roll back to or
    the files cannot be restored (uncommitted changes to them, say); nothing is committed
    then. A ``to`` the gate denies is returned with outcome ``refused``.
    """
    name = deployment_id(deployment)
    head = repository.snapshot("HEAD")
    settings = head.config.environment(environment)
    if settings is None:
        known = ", ".join(e.name for e in head.config.environments) or "none"
        raise UsageError(f"unknown environment {environment!r}; alignops.yaml defines {known}")
    branch = settings.branch
    record = _Recorder(audit, environment, name)
    record(
        "rollback.started", {"branch": branch, "to": to, "automatic": automatic, "reason": reason}
    )
    with record.refusals():
        tip = repository.snapshot(f"refs/heads/{branch}")
        current = desired_state(tip, environment).get(name)
        if current is None:
            raise UsageError(
                f"{name} is not deployed to {environment} at the tip of {branch} ({tip.short})"
            )
        if to is None:
            progress(f"{name}: looking for the last compliant version in {environment}")
            target = _last_compliant(repository, name, environment, audit, current)
        else:
            target = repository.snapshot(to)
            _check_requested(target, name, environment, current)
            denials = _gate(target, environment, audit, evidence_store, progress)
            if denials:
                refused = Rollback(
                    name,
                    environment,
                    branch,
                    "refused",
                    tip.revision,
                    target.revision,
                    automatic=automatic,
                    denials=denials,
                )
                record(
                    "rollback.refused",
                    {
                        "reason": f"the gate denies {target.short}",
                        "from": tip.revision,
                        "to": target.revision,
                        "denials": list(denials),
                    },
                )
                return refused
        wanted = desired_state(target, environment)[name]
        files = _files_to_restore(target, tip, name)
        changes = setting_changes(current.settings(), wanted.settings())
        message = _message(name, environment, tip, target, files, changes, reason)
        commit = repository.commit_files(branch, files, message, parent=tip.revision)
    done = Rollback(
        name,
        environment,
        branch,
        "committed",
        tip.revision,
        target.revision,
        commit,
        {p: "restored" if data is not None else "deleted" for p, data in sorted(files.items())},
        changes,
        automatic,
    )
    record("rollback.committed", {**done.to_dict(), "fromFingerprint": current.fingerprint})
    progress(f"{name}: committed {commit[:12]} on {branch}, restoring {target.short}")
    return done


# -- the version to roll back to ----------------------------------------------------------


def _last_compliant(
    repository: ConfigRepository,
    name: str,
    environment: str,
    audit: AuditLog,
    current: DesiredService,
) -> Snapshot:
    """The newest revision delivered to ``environment`` with a passing verdict whose
    settings of ``name`` differ from ``current`` (module docstring)."""
    syncs = audit.records(action="sync.finished", subject=environment)
    rollbacks = audit.records(action="rollback.committed", subject=environment)
    history = sorted([*syncs, *rollbacks], key=lambda r: -r.seq)
    rolled_back_from: set[str] = set()
    seen: set[str] = set()
    for entry in history:
        data = entry.data
        if entry.action == "rollback.committed":
            if data.get("deployment") == name and data.get("fromFingerprint"):
                rolled_back_from.add(str(data["fromFingerprint"]))
            continue
        revision = str(data.get("revision") or "")
        delivered = data.get("outcome") in ("synced", "drifted")
        if not delivered or data.get("verdict") not in ("pass", "warn") or revision in seen:
            continue
        seen.add(revision)
        try:
            snapshot = repository.snapshot(revision)
            service = desired_state(snapshot, environment).get(name)
        except AlignOpsError:  # no longer in the repository, or no longer loads
            continue
        if service is None or service.fingerprint == current.fingerprint:
            continue
        if service.fingerprint in rolled_back_from:
            continue
        return snapshot
    raise UsageError(
        f"nothing to roll back {name} to: no earlier revision delivered to {environment} "
        "with a pass or warn verdict declares other settings for it (name one with --to)"
    )


def _gate(
    target: Snapshot,
    environment: str,
    audit: AuditLog,
    evidence_store: EvidenceStore | None,
    progress: Callable[[str], None],
) -> tuple[dict[str, Any], ...]:
    """The gate's denials of ``target`` now (none: it may be rolled back to); the verdict
    is recorded like a sync's."""
    progress(f"gate: checking {target.short} for {environment}")
    verdict = check(
        target, environment=environment, evidence_store=evidence_store, progress=progress
    )
    audit.append("gate.verdict", verdict.revision or verdict.digest, verdict.to_dict())
    save_usage(audit.db, verdict.usage)
    return tuple(
        {"rule": f.rule, "resource": f.resource, "message": f.message, "location": f.location}
        for f in verdict.denied
    )


def _check_requested(
    target: Snapshot, name: str, environment: str, current: DesiredService
) -> None:
    wanted = desired_state(target, environment).get(name)
    if wanted is None:
        raise UsageError(f"{name} is not deployed to {environment} at {target.short}")
    if wanted.fingerprint == current.fingerprint:
        raise UsageError(
            f"{name} has the same settings at {target.short} as at the tip: nothing to roll back"
        )


# -- the files that define the deployment -------------------------------------------------


def _files_to_restore(target: Snapshot, tip: Snapshot, name: str) -> dict[str, bytes | None]:
    """Path → content at ``target`` (None: delete) for every file that defines ``name`` at
    ``target`` and differs at ``tip``; refused if that would change anything else."""
    deployment = target.resources[name].model
    assert isinstance(deployment, ModelDeployment)
    restored = [name, *dict.fromkeys(ref for _, ref in deployment.references())]
    paths = {target.resources[rid].file for rid in restored}
    files: dict[str, bytes | None] = {}
    for rid in restored:
        there = tip.resources.get(rid)
        if there is not None and there.file != target.resources[rid].file:
            files[there.file] = None  # moved since: the old place goes (checked below)
        model = target.resources[rid].model
        if isinstance(model, Model):
            folder = _artifact_path(model)
            if folder is not None:
                paths.update(p for p in target.files if _inside(p, folder))
                for path in tip.files:
                    if path.startswith(folder + "/") and path not in target.files:
                        files[path] = None
    for path in paths:
        if target.files[path] != tip.files.get(path):
            files[path] = target.read(path)
    _refuse_side_effects(target, tip, name, restored, files)
    if not files:
        raise UsageError(
            f"{name}: its files at {target.short} are those at the tip; its settings differ "
            "through alignops.yaml, which a rollback does not change"
        )
    return files


def _refuse_side_effects(
    target: Snapshot,
    tip: Snapshot,
    name: str,
    restored: list[str],
    files: Mapping[str, bytes | None],
) -> None:
    """A rollback changes ``restored`` resources only: no other resource in the files it
    rewrites, no other user of a Model or a model file it changes."""
    problems = []
    for path in sorted(files):
        for snapshot in (tip, target):
            for other in snapshot.resources.values():
                if other.file != path or other.id in restored:
                    continue
                there = tip.resources.get(other.id)
                then = target.resources.get(other.id)
                if there is None or then is None or there.manifest != then.manifest:
                    problems.append(f"{path} also defines {other.id}, which would change too")
    changed_models = {
        rid
        for rid in restored[1:]
        if rid in tip.resources and tip.resources[rid].manifest != target.resources[rid].manifest
    }
    for other in tip.resources.values():
        if other.id in restored:
            continue
        used = {ref for _, ref in other.model.references()} & changed_models
        for rid in sorted(used):
            problems.append(f"{rid} is also used by {other.id}, which would change too")
        if isinstance(other.model, Model):
            artifact = _artifact_path(other.model)
            if artifact is not None and any(_inside(p, artifact) for p in files):
                problems.append(f"{artifact} is also the artifact of {other.id}")
    if problems:
        raise UsageError(
            f"cannot roll back {name} to {target.short} by restoring its files: "
            + "; ".join(dict.fromkeys(problems))
            + " (roll back by hand, or give it files of its own first)"
        )


def _inside(path: str, artifact: str) -> bool:
    """``path`` is the artifact file, or a file of the artifact folder."""
    return path == artifact or path.startswith(artifact + "/")


def _artifact_path(model: Model) -> str | None:
    """The repository path of a Model's artifact (None for the artifact store)."""
    uri = model.spec.artifact.uri
    if uri.startswith("store://"):
        return None
    return posixpath.normpath(uri).rstrip("/")


# -- the commit message and the records ----------------------------------------------------


def _message(
    name: str,
    environment: str,
    tip: Snapshot,
    target: Snapshot,
    files: Mapping[str, bytes | None],
    changes: tuple[tuple[str, Any, Any], ...],
    reason: str | None,
) -> str:
    lines = [
        f"Roll back {name} to {target.short}",
        "",
        f"{environment}: {name} serves again what {target.short} declared.",
    ]
    if reason:
        lines.append(reason.strip().splitlines()[0])
    lines += ["", "Changes:", *(f"  {describe_change(*c)}" for c in changes)]
    lines += ["Files:"]
    lines += [f"  {p}" + ("" if files[p] is not None else " (deleted)") for p in sorted(files)]
    lines += [
        "",
        f"Alignops-Rollback-From: {tip.revision}",
        f"Alignops-Rollback-To: {target.revision}",
        "",
    ]
    return "\n".join(lines)


class _Recorder:
    """Appends ``rollback.*`` records; an input error on the way is ``rollback.refused``."""

    def __init__(self, audit: AuditLog, environment: str, deployment: str) -> None:
        self.audit = audit
        self.environment = environment
        self.deployment = deployment

    def __call__(self, action: str, payload: Mapping[str, Any]) -> None:
        body = {"deployment": self.deployment, "environment": self.environment, **payload}
        self.audit.append(action, self.environment, body)

    @contextlib.contextmanager
    def refusals(self) -> Iterator[None]:
        try:
            yield
        except AlignOpsError as exc:
            self("rollback.refused", {"reason": str(exc), "error": type(exc).__name__})
            raise
