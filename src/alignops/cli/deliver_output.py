"""How ``plan``, ``sync``, ``status`` and ``history`` print: tables and one-line summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from alignops.cli.output import console, stderr
from alignops.reconcile.providers import Provider
from alignops.reconcile.sync import EnvironmentPlan, SyncResult

__all__ = ["print_history", "print_plan", "print_status", "print_sync", "status_rows"]

_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "tidy": "red",
    "skip": "dim",
    "synced": "bold green",
    "refused": "bold red",
    "failed": "bold red",
    "error": "bold red",
}


def _short(revision: str | None) -> str:
    return (revision or "")[:12] or "-"


def _width(names: list[str]) -> int:
    """Service names stay on one line up to 40 characters."""
    return min(40, max((len(n) for n in names), default=7))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "name" in value[0]:
        return ", ".join(f"{m['name']} {m['version']} {m['percent']}%" for m in value)
    return str(value)


def print_plan(planned: EnvironmentPlan) -> None:
    table = Table(expand=True, pad_edge=False)
    table.add_column("action", no_wrap=True)
    names = [a.name for a in planned.plan.actions] + list(planned.plan.unchanged)
    table.add_column("service", overflow="fold", min_width=_width(names))
    table.add_column("why", overflow="fold", ratio=4)
    for action in planned.plan.actions:
        why = Text(action.reason)
        for setting, live, desired in action.changes:
            why.append(f"\n{setting}: {_value(live)} → {_value(desired)}", style="dim")
        verb: str = action.verb
        skipped = planned.skipped.get(action.name)
        if skipped is not None:
            verb = "skip"
            why = Text(f"{action.reason}; skipped: {skipped}")
        table.add_row(Text(verb, style=_STYLE[verb]), action.name, why)
    for name in planned.plan.unchanged:
        table.add_row(Text("-", style="dim"), name, Text("unchanged", style="dim"))
    if table.rows:
        console.print(table)
    verbs = [a.verb for a in planned.plan.actions if a.name not in planned.skipped]
    console.print(
        f"plan for {planned.environment} at {_short(planned.revision)}: "
        f"{verbs.count('create')} to create · {verbs.count('update')} to update · "
        f"{verbs.count('delete')} to delete · {len(planned.plan.unchanged)} unchanged · "
        f"{len(planned.skipped)} skipped"
    )


def print_sync(result: SyncResult) -> None:
    for d in result.denials:  # one line each: readable in a CI log, greppable
        line = Text("denied ", style="bold red")
        line.append(f"{d['resource']} ({d['location']}): {d['message']} ")
        line.append(f"[{d['rule']}]", style="dim")
        console.print(line, soft_wrap=True)
    if result.actions:
        table = Table(expand=True, pad_edge=False)
        table.add_column("action", no_wrap=True)
        table.add_column(
            "service", overflow="fold", min_width=_width([a.service for a in result.actions])
        )
        table.add_column("result", overflow="fold", ratio=5)
        for a in result.actions:
            outcome = Text(a.message, style="" if a.ok else "red")
            table.add_row(Text(a.verb, style=_STYLE.get(a.verb, "")), a.service, outcome)
        console.print(table)
    for name, reason in result.skipped.items():
        stderr.print(f"[yellow]skipped[/] {name}: {reason}", markup=True, soft_wrap=True)
    for name, health in result.unhealthy.items():
        stderr.print(f"[red]unhealthy[/] {name}: {health.reason}", soft_wrap=True)
    line = Text()
    line.append(result.outcome.upper(), style=_STYLE[result.outcome])
    where = f"{_short(result.revision)} → {result.environment}"
    if result.outcome == "refused":
        line.append(
            f"  {where}: the gate denied it ({_count(len(result.denials), 'denial')}); "
            "nothing was started or stopped, the services running keep serving"
        )
    else:
        c = result.counts()
        line.append(
            f"  {c['created']} created · {c['updated']} updated · {c['deleted']} deleted · "
            f"{c['unchanged']} unchanged · {c['skipped']} skipped · {c['failed']} failed · "
            f"{c['unhealthy']} unhealthy · {where}"
        )
    console.print(line)


def status_rows(
    planned: EnvironmentPlan, providers: Mapping[str, Provider]
) -> list[dict[str, Any]]:
    """One row per service that runs or that HEAD declares, with its health now."""
    rows = []
    for name in sorted({*planned.desired, *planned.live}):
        live = planned.live.get(name)
        desired = planned.desired.get(name)
        declared = desired is not None
        if live is not None:
            targets = planned.located.get(name, ())
            target = desired.target if desired and desired.target in targets else targets[0]
            health = providers[target].health(name, planned.environment)
            models = live.settings.get("models", [])
            rows.append(
                {
                    "service": name,
                    "target": target,
                    "declared": declared,
                    "revision": live.revision,
                    "models": models,
                    "url": live.details.get("url"),
                    "pid": live.details.get("pid"),
                    "healthy": health.ok,
                    "health": health.reason,
                    "startedAt": live.details.get("startedAt"),
                }
            )
        elif desired is not None:
            skipped = planned.skipped.get(name)
            rows.append(
                {
                    "service": name,
                    "target": desired.target,
                    "declared": True,
                    "revision": None,
                    "models": [
                        {"name": m.name, "version": m.version, "percent": m.percent}
                        for m in desired.models
                    ],
                    "url": None,
                    "pid": None,
                    "healthy": False,
                    "health": f"skipped: {skipped}" if skipped else "not running",
                    "startedAt": None,
                }
            )
    return rows


def print_status(environment: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(f"{environment}: no services declared or running")
        return
    table = Table(title=environment, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("service", "revision", "models", "url", "pid", "health", "started"):
        table.add_column(column, overflow="fold", no_wrap=column in ("service", "revision", "pid"))
    notes = []
    for row in rows:
        models = ", ".join(
            f"{m['name']} {m['version']}" + (f" ({m['percent']}%)" if m["percent"] != 100 else "")
            for m in row["models"]
        )
        health = Text(row["health"], style="green" if row["healthy"] else "red")
        if row["health"].startswith("skipped: "):
            health = Text("skipped", style="yellow")
            notes.append(f"{row['service']}: {row['health'].removeprefix('skipped: ')}")
        service = row["service"] + ("" if row["declared"] else " (not in HEAD)")
        table.add_row(
            service,
            _short(row["revision"]),
            models or "-",
            row["url"] or "-",
            str(row["pid"] or "-"),
            health,
            (row["startedAt"] or "-").replace("T", " ").replace("+00:00", "Z"),
        )
    console.print(table)
    for note in notes:
        console.print(Text(f"skipped {note}", style="dim"))


def print_history(entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print("no syncs recorded yet")
        return
    table = Table(expand=True, pad_edge=False)
    for column in ("seq", "when (UTC)", "actor", "revision", "outcome", "changes"):
        table.add_column(column, overflow="fold")
    for e in entries:
        outcome = str(e.get("outcome"))
        counts = e.get("counts") or {}
        if outcome == "refused":
            changes = f"{_count(len(e.get('denials') or []), 'denial')}; nothing changed"
        elif outcome == "error":
            changes = str(e.get("error"))
        else:
            keys = ("created", "updated", "deleted", "unchanged", "skipped", "failed", "unhealthy")
            changes = " · ".join(f"{counts[k]} {k}" for k in keys if counts.get(k)) or "-"
        table.add_row(
            str(e["seq"]),
            str(e["recordedAt"])[:19].replace("T", " "),
            str(e["actor"]),
            _short(e.get("revision")),
            Text(outcome, style=_STYLE.get(outcome, "")),
            changes,
        )
    console.print(table)
