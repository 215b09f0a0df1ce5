"""What every ledger command does first: meter the runtime's new telemetry and bring the
project's own usage (served requests, evidence jobs) into the cost ledger, so cloud and
local costs are always reported together (decision 0035)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alignops.finops.ledger import Ledger
    from alignops.finops.own_usage import OwnUsageResult
    from alignops.manifests.config import RepoConfig
    from alignops.metering import MeterResult
    from alignops.source import ConfigRepository

__all__ = ["ledger_of", "refresh_own_usage"]


def ledger_of(root: Path, config: RepoConfig, given: Path | None) -> Ledger:
    """The ledger ``--ledger`` names, else the repository's (``finops.ledger``)."""
    from alignops.finops.ledger import Ledger

    return Ledger(given) if given is not None else Ledger.of_repository(root, config.finops.ledger)


def refresh_own_usage(
    repository: ConfigRepository,
    config: RepoConfig,
    ledger: Ledger,
    db: str | None,
    progress: Callable[[str], None],
) -> tuple[MeterResult, OwnUsageResult]:
    """Meter what is new, then replace the ledger's own rows from the state database."""
    from alignops.finops.own_usage import evidence_pricing, sync_own_usage
    from alignops.metering import meter
    from alignops.store import Database, default_database_url

    evidence_pricing(config)  # an unknown finops.evidencePriceList: refused before any write
    database = Database(db or default_database_url(repository.root))
    try:
        metered = meter(
            repository,
            state_dir=repository.root / ".alignops",
            database=database,
            progress=progress,
        )
        progress("own usage → ledger")
        with ledger.connect() as con:
            own = sync_own_usage(con, database, config=config)
    finally:
        database.close()
    return metered, own
