"""Options shared by the commands that work on a config repository and the state DB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignops.audit import AuditLog
from alignops.evidence.store import EvidenceStore
from alignops.source import ConfigRepository
from alignops.store import Database, default_database_url

__all__ = ["DbOption", "RepoOption", "evidence_store", "open_audit_log", "open_repository"]

RepoOption = Annotated[
    Path,
    typer.Option(
        "--repo",
        "-C",
        help="Config repository (any folder inside it).",
        envvar="ALIGNOPS_REPO",
        show_default=".",
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="State database URL. Default: ALIGNOPS_DATABASE_URL, else "
        ".alignops/state.db in the repository.",
        show_default=False,
    ),
]


def open_repository(path: Path) -> ConfigRepository:
    return ConfigRepository(path)


def open_audit_log(url: str | None, repo_root: Path | None) -> AuditLog:
    return AuditLog(Database(url or default_database_url(repo_root)))


def evidence_store(repository: ConfigRepository) -> EvidenceStore:
    """The local evidence cache of the repository, backed by its evidence ref."""
    return EvidenceStore(repository.root / ".alignops" / "evidence", repository=repository)
