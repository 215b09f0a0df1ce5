"""Cost records as a FOCUS file: CSV (exact decimal text) or Parquet (typed columns).

Both have the FOCUS column names in the table's order. In Parquet, money and
quantities are ``decimal128(38, 20)`` (rounded half-even at the 20th decimal, if ever
needed), the periods ``timestamp[us, UTC]``, ``x_BilledMs`` an ``int64``, the rest
strings; in CSV, values are written as stored and nulls are empty.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any, Literal

from alignops.errors import UsageError
from alignops.metering.records import DECIMAL_COLUMNS, FOCUS_COLUMNS, TIME_COLUMNS

__all__ = ["ExportFormat", "export_records"]

ExportFormat = Literal["csv", "parquet"]

_SCALE = 20
_QUANTUM = Decimal(1).scaleb(-_SCALE)
_ROUNDING = Context(prec=38, rounding=ROUND_HALF_EVEN)


def export_records(records: Sequence[dict[str, Any]], path: Path, fmt: ExportFormat) -> int:
    """Write ``records`` to ``path`` (replaced atomically); the number of rows."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "csv":
            _write_csv(records, temporary)
        else:
            _write_parquet(records, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return len(records)


def _write_csv(records: Sequence[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FOCUS_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)


def _write_parquet(records: Sequence[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name in FOCUS_COLUMNS:
        values = [r[name] for r in records]
        if name in DECIMAL_COLUMNS:
            array = pa.array([_decimal(v) for v in values], pa.decimal128(38, _SCALE))
        elif name in TIME_COLUMNS:
            array = pa.array(
                [datetime.fromisoformat(v) for v in values], pa.timestamp("us", tz="UTC")
            )
        elif name == "x_BilledMs":
            array = pa.array(values, pa.int64())
        else:
            array = pa.array(values, pa.string())
        arrays[name] = array
    pq.write_table(pa.table(arrays), path)


def _decimal(text: str) -> Decimal:
    return Decimal(text).quantize(_QUANTUM, context=_ROUNDING)
