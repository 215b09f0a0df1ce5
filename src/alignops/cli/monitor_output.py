"""How ``monitor`` and ``alerts`` print: window tables, alert blocks, one line per tick."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from alignops.cli.output import console, stderr
from alignops.monitor.messages import format_value, remediation_line

if TYPE_CHECKING:  # the monitor's machinery (pandas, …) loads only for a monitor command
    from alignops.monitor import MonitorReport

__all__ = [
    "print_alert",
    "print_alerts",
    "print_silences",
    "print_status",
    "print_tick",
    "when",
]

_STATE = {
    "firing": "bold red",
    "resolved": "green",
    "judged": "",
    "open": "dim",
    "too few requests": "yellow",
}
_SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def when(text: str | None) -> str:
    """``2026-11-23T12:00:00+00:00`` → ``2026-11-23 12:00``."""
    return (text or "-").replace("T", " ")[:16]


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# -- monitor status ------------------------------------------------------------------------


def print_status(status: dict[str, Any]) -> None:
    updated = status.get("updated")
    if updated and updated.get("segments"):
        stderr.print(
            f"added {updated['segments']:,} telemetry segment{_s(updated['segments'])} "
            f"({updated['requests']:,} requests) into the windows",
            soft_wrap=True,
        )
    for problem in status.get("problems", []):
        stderr.print(f"[red]problem[/] {problem}", soft_wrap=True)
    seconds = int(status["windowSeconds"])
    if not status["environments"]:
        console.print("no environment to monitor")
    for environment in status["environments"]:
        console.print(
            Text(
                f"{environment['environment']} at {environment['revision'][:12]}  "
                f"(windows of {seconds:,} s, judged from {status['minRequests']:,} requests)",
                style="bold",
            )
        )
        if not environment["deployments"]:
            console.print("  no ModelDeployment in this environment")
        for row in environment["deployments"]:
            _print_deployment(row)


def _print_deployment(row: dict[str, Any]) -> None:
    firing = row["alerts"]
    head = Text(f"  {row['deployment']}", style="bold")
    head.append(f"  {len(row['rules'])} rule{_s(len(row['rules']))}")
    if firing:
        head.append(f" · {len(firing)} firing", style="bold red")
    console.print(head, soft_wrap=True)
    for rule in row["rules"]:
        line = f"    rule {rule['name']}: {rule['metric']}"
        if not str(rule["metric"]).startswith("anomaly:"):
            line += f" {rule['op']} {rule['threshold']:g}"
        console.print(
            Text(line + f" ({rule['severity']}, {rule['source']})", style="dim"), soft_wrap=True
        )
    for unwatched in row["unwatched"]:
        console.print(
            Text(
                f"    not watched live: {unwatched['requirement']} ({unwatched['source']}): "
                f"{unwatched['reason']}",
                style="yellow",
            ),
            soft_wrap=True,
        )
    for window in row["windows"]:
        console.print(_window_line(window), soft_wrap=True)
    if not row["windows"]:
        console.print("    no telemetry windows yet")
    for alert in firing:
        console.print(_alert_line(alert, indent="    "), soft_wrap=True)


def _window_line(w: dict[str, Any]) -> Text:
    """``2026-11-23 14:00  judged  1,000 requests · p50/p95/p99 4.0/4.1/4.4 ms · …``:
    one line per window, readable at any terminal width."""
    line = Text(f"    {when(w['start'])}  ")
    line.append(w["state"], style=_STATE.get(w["state"], ""))
    quantiles = "/".join(_number(w.get(q), ".1f") for q in ("p50", "p95", "p99"))
    error_rate = w.get("errorRate")
    facts = [
        f"{w['requests']:,} request{_s(int(w['requests']))}",
        f"p50/p95/p99 {quantiles} ms",
        "errors " + ("-" if error_rate is None else f"{error_rate * 100:.1f} %"),
        f"cold starts {w['coldStarts']:,}",
    ]
    psi = w.get("maxPsi")
    if psi:
        facts.append(f"max PSI {psi['value']:.3f} ({psi['feature']})")
    parity = w.get("parity")
    if parity:
        facts.append(f"parity {parity['value']:.3f} ({parity['attribute']})")
    if w.get("costRate") is not None:
        facts.append(f"cost {w['costRate']:,.6f}/h")
    line.append("  " + " · ".join(facts))
    return line


# -- monitor run ---------------------------------------------------------------------------


def print_tick(report: MonitorReport) -> None:
    """One line per tick on stdout; problems and remediations below it."""
    counts = report.counts()
    windows = report.windows or {}
    parts = [
        f"{windows.get('segments', 0):,} segment{_s(int(windows.get('segments', 0)))} "
        f"({windows.get('requests', 0):,} requests) windowed",
        f"{counts['judged']} judged",
        f"{counts['opened']} opened",
        f"{counts['updated']} updated",
        f"{counts['resolved']} resolved",
        f"notifications: {counts['sent']} sent, {counts['retrying']} retrying, "
        f"{counts['failed']} failed, {counts['held']} held, {counts['waiting']} waiting",
    ]
    if report.silenced:
        parts.append(f"{report.silenced} silenced")
    console.print(
        f"{report.at.isoformat(timespec='seconds')} monitor: " + " · ".join(parts), soft_wrap=True
    )
    for outcome in report.remediations:
        console.print(
            f"  alert {outcome['alert']}: {outcome['action']} {outcome['status']}: "
            f"{outcome['message']}",
            soft_wrap=True,
        )
    for delivery in (*report.dispatch.retrying, *report.dispatch.failed, *report.dispatch.waiting):
        stderr.print(f"[yellow]notification {delivery.id}[/] {delivery.error}", soft_wrap=True)
    for problem in report.problems:
        stderr.print(f"[red]problem[/] {problem}", soft_wrap=True)


# -- alerts --------------------------------------------------------------------------------


def _alert_line(alert: dict[str, Any], indent: str = "") -> Text:
    line = Text(indent)
    line.append(f"#{alert['id']} ", style="bold")
    line.append(alert["state"], style=_STATE.get(alert["state"], ""))
    line.append(" ")
    line.append(alert["severity"], style=_SEVERITY.get(alert["severity"], ""))
    line.append(f" {alert['summary']} since {when(alert['firstWindow'])}")
    if alert.get("ackedBy"):
        line.append(f" (acked by {alert['ackedBy']})", style="dim")
    return line


def print_alerts(alerts: list[dict[str, Any]], state: str) -> None:
    """One alert per line, then its rule and last window, readable at any width."""
    if not alerts:
        console.print("no alerts" if state == "all" else f"no {state} alerts")
        return
    for alert in alerts:
        console.print(_alert_line(alert), soft_wrap=True)
        facts = [
            f"rule {alert['rule']}",
            f"last window {when(alert['lastWindow'])}",
            f"{alert['details'].get('windowCount', 1)} window(s)",
        ]
        if alert.get("resolvedAt"):
            facts.append(f"resolved {when(alert['resolvedAt'])}")
        console.print(Text("    " + " · ".join(facts), style="dim"), soft_wrap=True)


def print_alert(alert: dict[str, Any], notifications: list[dict[str, Any]]) -> None:
    details = alert["details"]
    console.print(_alert_line(alert), soft_wrap=True)
    facts = [
        f"rule {alert['rule']} ({details.get('source', '?')})",
        f"{alert['deployment']} in {alert['environment']}",
        f"revision {alert['revision'][:12]}",
        f"opened {when(alert['openedAt'])}",
    ]
    if alert.get("resolvedAt"):
        facts.append(f"resolved {when(alert['resolvedAt'])}: {details.get('resolvedReason', '')}")
    console.print("  " + " · ".join(facts), soft_wrap=True)
    windows = details.get("windows") or []
    if windows:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("  window (UTC)", "revision", "requests", "value", "over the threshold"):
            table.add_column(column, no_wrap=column != "over the threshold", overflow="fold")
        for w in windows:
            over = ", ".join(
                f"{k} {format_value(alert['metric'], v)}" for k, v in (w.get("over") or {}).items()
            )
            if "score" in w:
                baseline = format_value(alert["metric"], w["baseline"])
                over = f"score {w['score']:.1f}, baseline {baseline}"
            table.add_row(
                "  " + when(w["window"]),
                str(w.get("revision", ""))[:12],
                f"{w.get('requests', 0):,}",
                format_value(alert["metric"], float(w["value"])),
                over or "-",
            )
        console.print(table)
        count = int(details.get("windowCount", len(windows)))
        if count > len(windows):
            console.print(f"  (the newest {len(windows)} of {count} windows)")
    remedy = remediation_line(alert["id"], alert.get("remediation"))
    if remedy:
        console.print("  " + remedy, soft_wrap=True)
    elif (details.get("remediationSpec") or {}).get("action", "none") != "none":
        console.print(
            f"  remediation: run `alignops alerts remediate {alert['id']}`", soft_wrap=True
        )
    for n in notifications:
        error = f" — {n['lastError']}" if n.get("lastError") else ""
        console.print(
            f"  notification {n['id']} {n['kind']} → {n['route']} ({n['target']}): "
            f"{n['status']}, {n['attempts']} attempt{_s(int(n['attempts']))}{error}",
            soft_wrap=True,
        )


def print_silences(silences: list[dict[str, Any]]) -> None:
    if not silences:
        console.print("no silences")
        return
    for s in silences:
        line = Text(f"#{s['id']} ", style="bold")
        line.append(
            "active" if s.get("active") else "expired", style="bold" if s.get("active") else "dim"
        )
        matchers = " ".join(f"{k}={v}" for k, v in s["matchers"].items())
        line.append(f" {matchers} until {when(s['expiresAt'])} UTC, by {s['createdBy']}")
        if s["comment"]:
            line.append(f": {s['comment']}")
        console.print(line, soft_wrap=True)
