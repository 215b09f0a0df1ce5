"""The ledger on Spark: ``--engine spark`` runs the same Ibis expressions on PySpark.

:func:`spark_backend` exports the ledger's ``charges`` to Parquet (DuckDB ``COPY``, into
a temporary folder), reads it into a Spark session as the ``charges`` view and hands
back an Ibis PySpark backend. Money stays ``DECIMAL(38, 18)`` on both sides, periods are
timestamps without a time zone read in a UTC session, so an expression gives the same
numbers on both engines (tests/finops/test_spark.py); callers normalise what differs in
form only (µs vs ns timestamps, row order).

The session is local (``local[2]`` unless ``ALIGNOPS_SPARK_MASTER`` says otherwise), UI
off, logs quiet, and stopped on exit — unless a session was already running in this
process (a notebook's, or the tests'), which is used and left running. Starting one
takes 10–20 s; it needs a Java runtime (17) and ``alignops[spark]``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignops.errors import LedgerError, UsageError

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

__all__ = ["SPARK_SETTINGS", "local_session", "spark_backend"]

SPARK_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.driver.memory": "1g",
}
"""Settings of the session :func:`local_session` starts (the time zone is also set on a
session found running: windows are UTC days, weeks and months)."""

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.spark.name = org.apache.spark
logger.spark.level = error
"""


def local_session(app_name: str = "alignops") -> SparkSession:
    """A Spark session with :data:`SPARK_SETTINGS` (an existing one if running)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(
            "--engine spark needs PySpark: pip install 'alignops[spark]' (and a Java 17 runtime)"
        ) from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UsageError("--engine spark needs a Java runtime (17): install one or set JAVA_HOME")
    log4j = Path(tempfile.gettempdir()) / "alignops-spark-log4j2.properties"
    if not log4j.exists() or log4j.read_text() != _LOG4J:
        log4j.write_text(_LOG4J)
    builder = SparkSession.builder.master(os.environ.get("ALIGNOPS_SPARK_MASTER", "local[2]"))
    builder = builder.appName(app_name)
    for key, value in SPARK_SETTINGS.items():
        builder = builder.config(key, value)
    builder = builder.config(
        "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}"
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's errors have no common base class
        raise LedgerError(f"cannot start Spark: {type(exc).__name__}: {exc}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def spark_backend(con: duckdb.DuckDBPyConnection) -> Iterator[Any]:
    """An Ibis PySpark backend whose ``charges`` table holds the ledger's charges (as they
    are when this is entered); the session it started is stopped on exit."""
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    folder = Path(tempfile.mkdtemp(prefix="alignops-ledger-"))
    try:
        path = folder / "charges.parquet"
        quoted = str(path).replace("'", "''")
        con.execute(f"COPY charges TO '{quoted}' (FORMAT parquet, COMPRESSION zstd)")
        session = running or local_session()
        try:
            session.conf.set("spark.sql.session.timeZone", "UTC")
            session.read.parquet(str(path)).createOrReplaceTempView("charges")
            import ibis

            yield ibis.pyspark.connect(session)
        finally:
            if running is None:
                session.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
