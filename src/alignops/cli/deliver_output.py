"""How ``plan``, ``sync``, ``status`` and ``history`` print: tables and one-line summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from alignops.cli.output import console, stderr
from alignops.reconcile.plan import describe_change
from alignops.reconcile.providers import Health, Provider
from alignops.reconcile.rollback import Rollback
from alignops.reconcile.sync import EnvironmentPlan, SyncResult

__all__ = ["print_history", "print_plan", "print_status", "print_sync", "status_rows"]

_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "tidy": "red",
    "skip": "dim",
    "drift": "magenta",
    "synced": "bold green",
    "refused": "bold red",
    "failed": "bold red",
    "drifted": "bold magenta",
    "error": "bold red",
}


def _short(revision: str | None) -> str:
    return (revision or "")[:12] or "-"


def _width(names: list[str]) -> int:
    """Service names stay on one line up to 40 characters."""
    return min(40, max((len(n) for n in names), default=7))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def print_plan(planned: EnvironmentPlan) -> None:
    table = Table(expand=True, pad_edge=False)
    table.add_column("action", no_wrap=True)
    names = [a.name for a in planned.plan.actions] + list(planned.plan.unchanged)
    table.add_column("service", overflow="fold", min_width=_width(names))
    table.add_column("why", overflow="fold", ratio=4)
    for action in planned.plan.actions:
        why = Text(action.reason)
        for change in action.changes:
            why.append(f"\n{describe_change(*change)}", style="dim")
        verb: str = action.verb
        if action in planned.reported:
            verb = "drift"
            why.append("\ndrift: reported, not healed (drift: report)", style="magenta")
        elif action.drift:
            why.append("\ndrift: changed outside Git; a sync heals it", style="magenta")
        skipped = planned.skipped.get(action.name)
        if skipped is not None:
            verb = "skip"
            why = Text(f"{action.reason}; skipped: {skipped}")
        table.add_row(Text(verb, style=_STYLE[verb]), action.name, why)
    for name in planned.plan.unchanged:
        table.add_row(Text("-", style="dim"), name, Text("unchanged", style="dim"))
    if table.rows:
        console.print(table)
    reported = planned.reported
    verbs = [
        a.verb for a in planned.plan.actions if a.name not in planned.skipped and a not in reported
    ]
    drift = f"{len(reported)} drift to report · " if reported else ""
    console.print(
        f"plan for {planned.environment} at {_short(planned.revision)}: "
        f"{verbs.count('create')} to create · {verbs.count('update')} to update · "
        f"{verbs.count('delete')} to delete · {drift}{len(planned.plan.unchanged)} unchanged · "
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
    for action in result.drift:
        line = Text("drift ", style=_STYLE["drift"])
        what = "; ".join([action.reason, *(describe_change(*c) for c in action.changes)])
        line.append(f"{action.name}: {what} — reported, not healed (drift: report)")
        console.print(line, soft_wrap=True)
    for rolled in result.rollbacks:
        console.print(_automatic_rollback(rolled.service, rolled.rollback, rolled.refused))
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
        drifted = f"{c['drifted']} drifted · " if c["drifted"] else ""
        line.append(
            f"  {c['created']} created · {c['updated']} updated · {c['deleted']} deleted · "
            f"{c['unchanged']} unchanged · {c['skipped']} skipped · {c['failed']} failed · "
            f"{c['unhealthy']} unhealthy · {drifted}{where}"
        )
    console.print(line)


def _automatic_rollback(service: str, rollback: Rollback | None, refused: str | None) -> Text:
    if rollback is None or rollback.commit is None:
        line = Text("not rolled back ", style="bold red")
        line.append(f"{service}: {refused}")
        return line
    line = Text("rolled back ", style="bold yellow")
    line.append(
        f"{service}: committed {_short(rollback.commit)} on {rollback.branch}, restoring "
        f"{_short(rollback.to_revision)} (the last compliant version, which keeps serving)"
    )
    return line


def status_rows(
    planned: EnvironmentPlan, providers: Mapping[str, Provider]
) -> list[dict[str, Any]]:
    """One row per service that runs or that HEAD declares, with its health now."""
    rows = []
    where: dict[str, str] = {}
    for name in planned.live:
        desired = planned.desired.get(name)
        targets = planned.located.get(name, ())
        where[name] = desired.target if desired and desired.target in targets else targets[0]
    health: dict[str, Health] = {}
    for target in set(where.values()):
        names = [n for n, t in where.items() if t == target]
        health.update(providers[target].health(planned.environment, names))
    for name in sorted({*planned.desired, *planned.live}):
        live = planned.live.get(name)
        desired = planned.desired.get(name)
        declared = desired is not None
        if live is not None:
            target = where[name]
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
                    "healthy": health[name].ok,
                    "health": health[name].reason,
                    "startedAt": live.details.get("startedAt"),
                    "scaleToZero": bool(live.details.get("scaleToZero")),
                    "coldStarts": health[name].details.get("coldStarts"),
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
                    "scaleToZero": desired.min_scale == 0,
                    "coldStarts": None,
                }
            )
    return rows


def print_status(environment: str, rows: list[dict[str, Any]]) -> None:
    """One block per service — readable at any terminal width:

    ModelDeployment/fraud-api  ok
      revision 3f2c9a1e0b7d · fraud 1.2.0 · pid 48211 · started 2026-11-23 13:57:02Z
      http://127.0.0.1:41237
    """
    if not rows:
        console.print(f"{environment}: no services declared or running")
        return
    console.print(Text(environment, style="bold"))
    for row in rows:
        models = ", ".join(
            f"{m['name']} {m['version']}" + (f" ({m['percent']}%)" if m["percent"] != 100 else "")
            for m in row["models"]
        )
        health = Text(row["health"], style="green" if row["healthy"] else "red")
        if row["health"].startswith("skipped: "):
            health = Text(row["health"], style="yellow")
        head = Text(row["service"] + ("" if row["declared"] else " (not in HEAD)"), style="bold")
        head.append("  ")
        head.append_text(health)
        console.print(head, soft_wrap=True)
        facts = [f"revision {_short(row['revision'])}"]
        if models:
            facts.append(models)
        if row["pid"]:
            facts.append(f"pid {row['pid']}")
        if row.get("scaleToZero"):
            facts.append(f"cold starts {_cold_starts(row)}")
        if row["startedAt"]:
            started = str(row["startedAt"]).replace("T", " ").replace("+00:00", "Z")
            facts.append(f"started {started}")
        console.print("  " + " · ".join(facts), soft_wrap=True)
        if row["url"]:
            console.print(f"  {row['url']}", soft_wrap=True)


def _cold_starts(row: dict[str, Any]) -> str:
    """ "3 (last 84 ms)" for a scale-to-zero service; "-" for an always-on one."""
    if not row.get("scaleToZero"):
        return "-"
    cold = row.get("coldStarts") or {}
    count = int(cold.get("count", 0))
    if not count:
        return "0"
    return f"{count} (last {float(cold.get('lastMs', 0)):.0f} ms)"


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
            keys = (
                "created",
                "updated",
                "deleted",
                "unchanged",
                "skipped",
                "failed",
                "unhealthy",
                "drifted",
                "rolledBack",
            )
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
