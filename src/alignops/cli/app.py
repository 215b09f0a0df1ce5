"""The ``alignops`` command line."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from alignops._version import __version__
from alignops.cli.alerts import alerts_app
from alignops.cli.approve import approve_command
from alignops.cli.audit import audit_app
from alignops.cli.check import check_command
from alignops.cli.cost import cost_app
from alignops.cli.deliver import (
    down_command,
    history_command,
    plan_command,
    status_command,
    sync_command,
)
from alignops.cli.demo import demo_command
from alignops.cli.evidence import evidence_app
from alignops.cli.init import init_command
from alignops.cli.monitor import monitor_app
from alignops.cli.output import EXIT_INTERNAL, stderr
from alignops.cli.policy import policy_app
from alignops.cli.rollback import rollback_command
from alignops.cli.schema import schema_command
from alignops.cli.server import server_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="alignops",
    help="GitOps control plane for AI models: gate, deliver, monitor, account, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("check")(check_command)
app.command("init")(init_command)
app.command("schema")(schema_command)
app.command("demo")(demo_command)
app.command("approve")(approve_command)
app.command("plan")(plan_command)
app.command("sync")(sync_command)
app.command("status")(status_command)
app.command("history")(history_command)
app.command("down")(down_command)
app.command("rollback")(rollback_command)
app.command("server")(server_command)
app.add_typer(evidence_app, name="evidence")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
app.add_typer(cost_app, name="cost")
app.add_typer(monitor_app, name="monitor")
app.add_typer(alerts_app, name="alerts")


@app.command("version")
def version_command() -> None:
    """Print the alignops version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: unexpected exceptions are internal errors (exit 3)."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ALIGNOPS_DEBUG"):
            traceback.print_exc()
        stderr.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "This is a bug in alignops; rerun with ALIGNOPS_DEBUG=1 for the traceback.",
            soft_wrap=True,
        )
        sys.exit(EXIT_INTERNAL)
