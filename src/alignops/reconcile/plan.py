"""A plan: what to do so that what runs becomes what the revision declares.

Pure: ``plan(desired, live)`` looks at no process, file or network. Live state comes
from a provider, which records the fingerprint of the settings it applied with each
service; a difference between that fingerprint and the desired one means the revision
changed the service, while a live *setting* that differs from what was applied (memory
changed out of band, say) is drift. A service that should run but does not — killed,
crashed, never started — is created again; it is drift too if it ran with these very
settings at the end of the last sync (``ran``), as opposed to never having run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from alignops.reconcile.desired import DesiredService

__all__ = ["Action", "LiveService", "Plan", "describe_change", "plan", "setting_changes"]


@dataclass(frozen=True)
class LiveService:
    """What a provider reports about one service it runs."""

    name: str
    fingerprint: str
    """Fingerprint of the settings it was last applied with."""
    revision: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The settings as observed now (a provider reports what it can observe)."""
    managed: bool = True
    """Created by alignops; unmanaged services are never pruned."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Where and how it runs, for people (pid, URL, start time); never compared."""


@dataclass(frozen=True)
class Action:
    verb: Literal["create", "update", "delete"]
    name: str
    reason: str
    desired: DesiredService | None = None
    changes: tuple[tuple[str, Any, Any], ...] = ()
    """(setting, live value, desired value) for updates."""
    drift: bool = False
    """The live state changed outside Git (a service that ran is gone, a setting changed),
    not the revision: an environment with ``drift: report`` reports it instead of
    applying it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.verb,
            "service": self.name,
            "reason": self.reason,
            "drift": self.drift,
            "changes": [{"setting": k, "live": a, "desired": b} for k, a, b in self.changes],
        }


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    unchanged: tuple[str, ...]

    @property
    def is_noop(self) -> bool:
        return not self.actions

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "unchanged": list(self.unchanged),
        }


def plan(
    desired: Mapping[str, DesiredService],
    live: Mapping[str, LiveService],
    *,
    prune: bool = True,
    ran: Mapping[str, str] | None = None,
) -> Plan:
    """Actions in a stable order: creates, updates, then deletes, each by name.

    ``ran``: service → fingerprint it was left running with by the last sync; a service
    of that fingerprint that is not running now is drift (killed or crashed), any other
    service that is not running has never run as desired (a plain create).
    """
    ran = ran or {}
    creates: list[Action] = []
    updates: list[Action] = []
    deletes: list[Action] = []
    unchanged: list[str] = []
    for name, want in desired.items():
        have = live.get(name)
        if have is None:
            gone = ran.get(name) == want.fingerprint
            creates.append(Action("create", name, "not running", want, drift=gone))
            continue
        wanted = want.settings()
        changes = setting_changes(have.settings, wanted)
        if have.fingerprint != want.fingerprint:
            updates.append(
                Action("update", name, f"changed in {want.revision[:12]}", want, changes)
            )
        elif changes:
            updates.append(
                Action("update", name, "drift: changed outside Git", want, changes, drift=True)
            )
        else:
            unchanged.append(name)
    if prune:
        for name, have in live.items():
            if name not in desired and have.managed:
                deletes.append(Action("delete", name, "no longer in the revision"))
    return Plan(tuple(creates + updates + deletes), tuple(unchanged))


def setting_changes(observed: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[Any, ...]:
    """(setting, observed, wanted) for each setting of ``wanted`` that ``observed`` has
    with another value (unobserved ones are not drift: a provider reports only what it
    can see)."""
    return tuple(
        (key, observed[key], wanted[key])
        for key in sorted(wanted)
        if key in observed and observed[key] != wanted[key]
    )


def describe_change(setting: str, before: Any, after: Any) -> str:
    """One changed setting for people: ``memory_mb: 768 → 512``, models as
    ``scorer-v1 1.0.0 100%``."""
    return f"{setting}: {_value(before)} → {_value(after)}"


def _value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "name" in value[0]:
        return ", ".join(f"{m['name']} {m['version']} {m['percent']}%" for m in value)
    return str(value)
