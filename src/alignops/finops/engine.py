"""Where ledger queries run: Ibis expressions on DuckDB (default) or Spark.

Every ledger query is an Ibis expression over the ``charges`` table, so the same code
runs on the DuckDB file and, with ``--engine spark``, on a local or remote Spark session
(decision 0035). Results come back as pandas frames with money as ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from alignops.finops.ledger import Ledger

if TYPE_CHECKING:
    import duckdb
    import ibis.expr.types as ir
    import pandas as pd

__all__ = ["EngineName", "LedgerEngine", "open_engine"]

EngineName = Literal["duckdb", "spark"]


class LedgerEngine:
    """An Ibis backend holding the ledger's ``charges`` table, and the DuckDB connection
    to the ledger file (``con``: where budgets and feedback are written, whichever engine
    runs the queries)."""

    def __init__(self, name: EngineName, backend: Any, con: duckdb.DuckDBPyConnection) -> None:
        self.name = name
        self.backend = backend
        self.con = con

    def charges(self) -> ir.Table:
        return self.backend.table("charges")

    def execute(self, expr: ir.Expr) -> pd.DataFrame:
        return self.backend.execute(expr)


@contextmanager
def open_engine(
    ledger: Ledger, name: EngineName = "duckdb", *, read_only: bool = True
) -> Iterator[LedgerEngine]:
    """The ledger on the named engine, closed on exit; ``read_only=False`` when the caller
    writes through ``engine.con`` (budget events, anomaly feedback)."""
    with ledger.connect(read_only=read_only) as con:
        if name == "spark":
            from alignops.finops.spark import spark_backend

            with spark_backend(con) as backend:
                yield LedgerEngine("spark", backend, con)
            return
        import ibis

        yield LedgerEngine("duckdb", ibis.duckdb.from_connection(con), con)
