"""Ingest FOCUS exports (1.0–1.3; CSV, CSV.gz, Parquet) into the cost ledger.

Each file is read through a DuckDB view with every column as text (the string ``NULL``
and empty fields are null), checked (:mod:`alignops.finops.validate`), then inserted into
``charges`` with its values cast to the ledger's types — a value that does not cast is
stored as null and counted in the report; no row is ever dropped. Tags are normalized and
the governed dimensions read from them in SQL (:mod:`alignops.finops.tags`).

A file is known by the sha256 of its bytes: one already in ``ingests`` is skipped. The
whole call is one transaction: a file that cannot be read (missing, not CSV or Parquet,
not a FOCUS export) or, with ``strict``, a file with error-severity problems leaves the
ledger exactly as it was (decision 0037).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alignops.errors import InputError, LedgerError, UsageError
from alignops.finops.focus import (
    ALL_COLUMNS,
    PROVIDER_ALIASES,
    FocusVersion,
    catalog,
    detect_version,
    is_focus_version,
)
from alignops.finops.ledger import DIMENSION_COLUMNS, LEDGER_COLUMNS, Ledger
from alignops.finops.tags import (
    dimension_sql,
    quote_ident,
    quote_literal,
    tag_json_values_sql,
    tag_keys_sql,
    tag_values_sql,
    tags_json_sql,
)
from alignops.finops.validate import (
    RowChecks,
    ValidationReport,
    cast_sql,
    column_problems,
    row_problems,
    typed_kinds,
    typed_name,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "COST_COLUMNS",
    "FileFormat",
    "GovernedTags",
    "IngestRefused",
    "IngestResult",
    "find_exports",
    "ingest_paths",
]

FileFormat = Literal["csv", "csv.gz", "parquet"]
Dimension = Literal["model", "team", "env", "activity", "cost_center"]
GovernedTags = Mapping[Dimension, Sequence[str]] | Mapping[str, Sequence[str]]
"""Dimension → the tag keys that give its value, first match wins (``finops.governedTags``)."""
Status = Literal["ingested", "skipped", "refused"]
COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_OURS = ("x_Tags", "x_Source", "x_FocusVersion", "x_IngestId", "x_RowNumber", "x_Extra")
"""Ledger columns alignops fills itself: a file's own column of that name goes to x_Extra."""
_ROWS = "__alignops_focus_rows"
_LINES = "__alignops_focus_lines"
_LINE = "__alignops_line"
_KEYS, _VALUES, _JSON = "__alignops_tag_keys", "__alignops_tag_values", "__alignops_tag_json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class IngestResult:
    """One file: ingested now, skipped (ingested before, by content), or refused
    (``strict`` and the report has errors)."""

    path: Path
    digest: str
    format: FileFormat
    status: Status
    ingest_id: int | None
    rows: int
    ingested_at: datetime | None
    report: ValidationReport
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Per billing currency (``""``: rows without one), the sum of each cost column."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "digest": self.digest,
            "format": self.format,
            "status": self.status,
            "ingestId": self.ingest_id,
            "rows": self.rows,
            "ingestedAt": self.ingested_at.isoformat() + "Z" if self.ingested_at else None,
            "totals": _totals_text(self.totals),
            "report": self.report.to_dict(),
        }


class IngestRefused(InputError):
    """``strict``: at least one file has error-severity problems; nothing was written."""

    exit_code = 1

    def __init__(self, results: Sequence[IngestResult]) -> None:
        refused = [r for r in results if r.status == "refused"]
        names = ", ".join(str(r.path) for r in refused)
        super().__init__(
            f"refused (--strict): {names} ha{'s' if len(refused) == 1 else 've'} "
            "error-severity problems; nothing was ingested"
        )
        self.results = tuple(results)


def find_exports(paths: Iterable[Path | str]) -> list[Path]:
    """The files to read: each file as given, and every ``.csv``, ``.csv.gz`` and
    ``.parquet`` file under each folder (recursively, sorted)."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)
            )
            if not found:
                raise InputError(f"{path}: no .csv, .csv.gz or .parquet file in this folder")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out


def ingest_paths(
    ledger: Ledger,
    paths: Sequence[Path | str],
    *,
    governed_tags: GovernedTags,
    focus_version: str | None = None,
    strict: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """Ingest every FOCUS export named (files or folders) in one transaction.

    ``governed_tags``: dimension (``model``, ``team``, …) → tag keys, first match wins.
    ``focus_version`` forces the version instead of detecting it from the columns.
    Raises :class:`~alignops.errors.InputError` (exit 2) for input that cannot be read
    and :class:`IngestRefused` (exit 1) when ``strict`` refuses a file; either way the
    ledger is left unchanged.
    """
    forced: FocusVersion | None = None
    if focus_version is not None:
        if not is_focus_version(focus_version):
            raise UsageError(
                f"--focus-version: expected 1.0, 1.1, 1.2 or 1.3, got {focus_version!r}"
            )
        forced = focus_version
    governed = {str(k): tuple(v) for k, v in governed_tags.items()}
    unknown = sorted(set(governed) - set(DIMENSION_COLUMNS))
    if unknown:
        raise UsageError(f"governed_tags: unknown dimensions {unknown}")
    files = find_exports(paths)
    report = progress or (lambda _: None)
    results: list[IngestResult] = []
    created = not ledger.path.exists()
    try:
        with ledger.connect() as con:
            con.execute(
                "SET TimeZone = 'UTC'; SET enable_progress_bar = false; "
                "SET preserve_insertion_order = true"
            )
            con.execute("BEGIN TRANSACTION")
            try:
                for number, path in enumerate(files, 1):
                    step = _Steps(report, f"[{number}/{len(files)}] {path.name}")
                    results.append(_ingest_file(con, path, governed, forced, strict, step))
                if any(r.status == "refused" for r in results):
                    raise IngestRefused(results)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
    except BaseException:
        if created:  # leave no empty ledger behind
            for leftover in (ledger.path, ledger.path.with_name(ledger.path.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    return results


@dataclass(frozen=True)
class _Steps:
    report: Callable[[str], None]
    prefix: str

    def __call__(self, text: str) -> None:
        self.report(f"{self.prefix}: {text}")


@dataclass(frozen=True)
class _Source:
    path: Path
    format: FileFormat
    digest: str
    newlines: int
    ends_with_newline: bool


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    governed: Mapping[str, Sequence[str]],
    forced: FocusVersion | None,
    strict: bool,
    step: _Steps,
) -> IngestResult:
    step("hashing")
    source = _read_source(path)
    previous = _previous(con, source)
    if previous is not None:
        return previous
    step("reading")
    stage = _define_rows(con, source)
    version = forced or detect_version(stage.present)
    _require_focus(source, stage, version)
    step(f"checking (FOCUS {version})")
    checked = _check(con, source, stage, version)
    if _number_lines(con, source, stage, checked.rows):
        step(f"checking again with the file's line numbers (FOCUS {version})")
        checked = _check(con, source, stage, version)
    validation = ValidationReport(
        file=str(path),
        format=source.format,
        focus_version=version,
        detected_version=detect_version(stage.present),
        rows=checked.rows,
        columns=stage.columns,
        extra_columns=stage.extra,
        problems=tuple(
            column_problems(version, stage.present, stage.renamed, checked.rows) + checked.problems
        ),
        rows_with_errors=checked.rows_with_errors,
        rows_without_cost={},
    )
    if strict and validation.errors:
        _drop_rows(con)
        return IngestResult(
            path, source.digest, source.format, "refused", None, 0, None, validation
        )
    step(f"writing {checked.rows:,} rows")
    (ingest_id,) = _one(con, "SELECT nextval('ingest_ids')")
    try:
        con.execute(
            f"INSERT INTO charges SELECT {_ledger_select(stage, governed, version, ingest_id)} "
            f"FROM {_ROWS}"
        )
    except _duckdb_errors() as exc:
        raise LedgerError(f"{path}: could not write to the cost ledger: {exc}") from None
    _drop_rows(con)
    totals, without = _totals(con, ingest_id)
    validation = replace(validation, rows_without_cost=without)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        "INSERT INTO ingests (id, source, digest, format, focus_version, rows, problems, "
        "report, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ingest_id,
            str(path),
            source.digest,
            source.format,
            version,
            checked.rows,
            checked.rows_with_errors,
            json.dumps({**validation.to_dict(), "totals": _totals_text(totals)}),
            now,
        ],
    )
    return IngestResult(
        path,
        source.digest,
        source.format,
        "ingested",
        ingest_id,
        checked.rows,
        now,
        validation,
        totals,
    )


# -- reading ------------------------------------------------------------------------------


def _read_source(path: Path) -> _Source:
    """Hash the file's bytes; count the newlines of a CSV (to number its lines)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            head = f.read(4)
            fmt = _format(path, head)
            digest.update(head)
            newlines, last = head.count(b"\n"), head[-1:]
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
                if fmt == "csv":
                    newlines += chunk.count(b"\n")
                last = chunk[-1:]
        if fmt == "csv.gz":
            newlines, last = _gz_newlines(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return _Source(path, fmt, digest.hexdigest(), newlines, last == b"\n")


def _format(path: Path, head: bytes) -> FileFormat:
    if head == b"PAR1" or path.name.lower().endswith(".parquet"):
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    return "csv"


def _gz_newlines(path: Path) -> tuple[int, bytes]:
    newlines, last = 0, b""
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return newlines, last


def _previous(con: duckdb.DuckDBPyConnection, source: _Source) -> IngestResult | None:
    found = con.execute(
        "SELECT id, rows, report, ingested_at FROM ingests WHERE digest = ? ORDER BY id LIMIT 1",
        [source.digest],
    ).fetchall()
    if not found:
        return None
    ((ingest_id, rows, text, at),) = found
    stored = json.loads(text)
    report = ValidationReport.from_dict(stored)
    totals = {
        currency: {k: Decimal(v) for k, v in sums.items()}
        for currency, sums in stored.get("totals", {}).items()
    }
    return IngestResult(
        source.path, source.digest, source.format, "skipped", ingest_id, rows, at, report, totals
    )


@dataclass(frozen=True)
class _Stage:
    columns: tuple[str, ...]
    """As the file names them, in order."""
    present: tuple[str, ...]
    """FOCUS and ledger columns the file has, named as FOCUS names them."""
    renamed: dict[str, str]
    """FOCUS name → the file's name, for columns named in another letter case."""
    unknown: tuple[str, ...]
    """Columns neither FOCUS nor of the ledger, as the file names them."""
    has_tags: bool
    native: frozenset[str]
    """Columns the file holds typed already (Parquet DECIMAL, TIMESTAMP): not parsed."""
    select: str
    """The SQL of the rows: every column as text, named as FOCUS names them, the line
    number, the tags' normalized keys and values."""

    @property
    def extra(self) -> tuple[str, ...]:
        """Staged columns kept in x_Extra: every one the ledger has no column for (FOCUS
        columns it does not type, the file's own), in the file's order."""
        unknown = set(self.unknown)
        present = iter(self.present)
        out: list[str] = []
        for column in self.columns:
            name = column if column in unknown else next(present)
            if name in unknown or name not in LEDGER_COLUMNS:
                out.append(name)
        return tuple(out)


def _define_rows(con: duckdb.DuckDBPyConnection, source: _Source) -> _Stage:
    """A temporary view of the file's rows: every column as text (or typed, when a
    Parquet file types it as the ledger does), named as FOCUS names them, its line
    number, each number and date-time column also cast (its typed shadow), and the tags
    as lists of keys and values. Nothing is copied: each pass over the view reads the
    file again, which costs less than holding ten million rows of text."""
    reader = _reader(source)
    try:
        described = [
            (str(r[0]), str(r[1]))
            for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            if not (source.format == "parquet" and r[0] == "file_row_number")
        ]
    except _duckdb_errors() as exc:
        raise InputError(f"{source.path}: not a readable {_label(source)} file: {exc}") from None
    columns = tuple(name for name, _ in described)
    present, renamed, unknown, names = _map_columns(columns)
    kinds = typed_kinds(present)
    native = frozenset(
        names[name]
        for name, kind in described
        if source.format == "parquet" and _native(kinds.get(names[name]), kind)
    )
    select = [
        f"{_as_text(name, kind, source.format, names[name] in native)} "
        f"AS {quote_ident(names[name])}"
        for name, kind in described
    ]
    position = "file_row_number" if source.format == "parquet" else "row_number() OVER () - 1"
    select.append(f"{position} + 2 AS {_LINE}")
    derived = [
        f"{cast_sql(name, kind, native=name in native)} AS {typed_name(name)}"
        for name, kind in kinds.items()
    ]
    has_tags = "Tags" in present
    if has_tags:
        derived += [
            f"{tag_keys_sql('Tags')} AS {_KEYS}",
            f"{tag_values_sql('Tags')} AS {_VALUES}",
            f"{tag_json_values_sql('Tags')} AS {_JSON}",
        ]
    extra = "".join(f", {d}" for d in derived)
    sql = f"SELECT *{extra} FROM (SELECT {', '.join(select)} FROM {reader})"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_ROWS} AS {sql}")
    return _Stage(columns, present, renamed, unknown, has_tags, native, sql)


def _native(kind: str | None, physical: str) -> bool:
    """Whether a Parquet column's type already is what the ledger stores: a decimal with
    at most 18 places or an integer for money, a timestamp or date for date-times."""
    if kind == "decimal":
        if physical.startswith("DECIMAL"):
            return int(physical.rstrip(")").rsplit(",", 1)[-1]) <= 18
        return physical in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
    if kind == "datetime":
        return physical.startswith("TIMESTAMP") or physical == "DATE"
    return False


def _check(
    con: duckdb.DuckDBPyConnection, source: _Source, stage: _Stage, version: FocusVersion
) -> RowChecks:
    try:
        return row_problems(
            con,
            table=_ROWS,
            line=_LINE,
            version=version,
            present=stage.present,
            unknown=stage.unknown,
            tag_keys=_KEYS if stage.has_tags else None,
            native=stage.native,
        )
    except _duckdb_errors() as exc:
        raise InputError(f"{source.path}: not a readable {_label(source)} file: {exc}") from None


def _reader(source: _Source) -> str:
    path = quote_literal(str(source.path))
    if source.format == "parquet":
        return f"read_parquet({path}, file_row_number = true)"
    return (
        f"read_csv({path}, header = true, all_varchar = true, delim = ',', quote = '\"', "
        f"escape = '\"', nullstr = ['NULL', ''], "
        f"compression = '{'gzip' if source.format == 'csv.gz' else 'none'}')"
    )


def _label(source: _Source) -> str:
    return {"csv": "CSV", "csv.gz": "gzip-compressed CSV", "parquet": "Parquet"}[source.format]


def _duckdb_errors() -> tuple[type[Exception], ...]:
    import duckdb

    return (duckdb.Error,)


def _map_columns(
    columns: Sequence[str],
) -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...], dict[str, str]]:
    """The file's columns → FOCUS/ledger names (exact first, then ignoring case), the
    renamed ones, the unknown ones, and the name each gets in the stage."""
    known = (ALL_COLUMNS | set(LEDGER_COLUMNS)) - set(_OURS)
    by_lower = {name.lower(): name for name in known}
    names: dict[str, str] = {}
    present: list[str] = []
    renamed: dict[str, str] = {}
    extra: list[str] = []
    taken = {c for c in columns if c in known}
    for column in columns:
        canonical = column if column in known else by_lower.get(column.lower())
        if canonical is not None and (canonical == column or canonical not in taken):
            taken.add(canonical)
            present.append(canonical)
            names[column] = canonical
            if canonical != column:
                renamed[canonical] = column
        else:
            extra.append(column)
            names[column] = column
    return tuple(present), renamed, tuple(extra), names


def _as_text(column: str, physical: str, fmt: FileFormat, native: bool) -> str:
    """A column as the view holds it: CSV text as read (``NULL`` and empty: null);
    Parquet text likewise, nested values as JSON text, date-times in FOCUS's format,
    other types as text — unless ``native`` (kept typed)."""
    col = quote_ident(column)
    if fmt != "parquet" or native:
        return col
    if physical == "VARCHAR":
        return f"nullif(nullif({col}, 'NULL'), '')"
    if physical.startswith(("MAP", "STRUCT")) or physical.endswith("]") or physical == "JSON":
        return f"to_json({col})::VARCHAR"
    if physical.startswith("TIMESTAMP"):
        return f"strftime({col}::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%fZ')"
    return f"{col}::VARCHAR"


def _number_lines(
    con: duckdb.DuckDBPyConnection, source: _Source, stage: _Stage, rows: int
) -> bool:
    """Rows are numbered by position + 2 (the header is line 1). When a record spans
    lines or a line is blank (the file's newline count tells), Python's csv module finds
    the line each record starts on and the view joins them by position. True when the
    numbers changed (the checks must run again to report the right lines)."""
    if source.format == "parquet":
        return False
    expected = rows + 1 if source.ends_with_newline else rows
    if source.newlines == expected:
        return False
    starts = _record_lines(source)
    if len(starts) != rows:  # the two readers disagree: keep positions rather than guess
        return False
    import pyarrow as pa

    lines = pa.table(
        {
            "position": pa.array(range(2, rows + 2), type=pa.int64()),
            "line": pa.array(starts, type=pa.int64()),
        }
    )
    con.register(_LINES, lines)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_ROWS} AS SELECT r.* REPLACE (l.line AS {_LINE}) "
        f"FROM ({stage.select}) r JOIN {_LINES} l ON r.{_LINE} = l.position"
    )
    return True


def _record_lines(source: _Source) -> list[int]:
    import csv
    import io

    opener = gzip.open if source.format == "csv.gz" else open
    starts: list[int] = []
    with (
        opener(source.path, "rb") as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text,
    ):
        reader = csv.reader(text)
        if next(reader, None) is None:
            return starts
        end = reader.line_num
        for record in reader:
            if record:
                starts.append(end + 1)
            end = reader.line_num
    return starts


def _drop_rows(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP VIEW {_ROWS}")
    con.unregister(_LINES)


def _require_focus(source: _Source, stage: _Stage, version: FocusVersion) -> None:
    """A file with fewer than half the version's mandatory columns is not a FOCUS export."""
    mandatory = [n for n, rule in catalog(version).items() if rule.mandatory]
    have = [n for n in mandatory if n in stage.present]
    if len(have) * 2 < len(mandatory):
        missing = ", ".join(n for n in mandatory if n not in stage.present)
        raise InputError(
            f"{source.path}: not a FOCUS {version} export: it has {len(have)} of the "
            f"{len(mandatory)} mandatory columns (missing: {missing})"
        )


# -- writing ------------------------------------------------------------------------------


def _ledger_select(
    stage: _Stage, governed: Mapping[str, Sequence[str]], version: str, ingest_id: int
) -> str:
    present = set(stage.present)
    kinds = typed_kinds(stage.present)
    dimensions = {column: name for name, column in DIMENSION_COLUMNS.items()}
    out: list[str] = []
    for name in LEDGER_COLUMNS:
        col = quote_ident(name)
        if name == "x_Tags":
            expr = tags_json_sql('"Tags"', _KEYS, _JSON) if stage.has_tags else "NULL"
        elif name in dimensions:
            keys = governed.get(dimensions[name], ()) if stage.has_tags else ()
            explicit = col if name in present else None
            expr = dimension_sql(_KEYS, _VALUES, keys, explicit)
        elif name == "x_Source":
            expr = "'focus'"
        elif name == "x_FocusVersion":
            expr = quote_literal(version)
        elif name == "x_IngestId":
            expr = str(ingest_id)
        elif name == "x_RowNumber":
            expr = _LINE
        elif name == "x_Extra":
            expr = _extra_sql(stage.extra)
        elif name in kinds:
            expr = typed_name(name)
        elif name in present:
            expr = col
        elif name in PROVIDER_ALIASES and PROVIDER_ALIASES[name] in present:
            expr = quote_ident(PROVIDER_ALIASES[name])
        else:
            expr = "NULL"
        out.append(f"{expr} AS {col}")
    return ", ".join(out)


def _extra_sql(extra: Sequence[str]) -> str:
    """``x_Extra``: the non-null values of ``extra`` as a JSON object of text (NULL when
    all are null), concatenated rather than built as a MAP (four times faster)."""
    if not extra:
        return "NULL"
    parts = ", ".join(
        f"CASE WHEN {quote_ident(c)} IS NOT NULL THEN {quote_literal(json.dumps(c) + ':')} "
        f"|| to_json({quote_ident(c)}::VARCHAR) END"
        for c in extra
    )
    return f"nullif('{{' || concat_ws(',', {parts}) || '}}', '{{}}')"


def _totals(
    con: duckdb.DuckDBPyConnection, ingest_id: int
) -> tuple[dict[str, dict[str, Decimal]], dict[str, int]]:
    sums = ", ".join(f"sum({quote_ident(c)})" for c in COST_COLUMNS)
    nulls = ", ".join(f"count(*) FILTER (WHERE {quote_ident(c)} IS NULL)" for c in COST_COLUMNS)
    rows = con.execute(
        f"SELECT coalesce(\"BillingCurrency\", ''), {sums}, {nulls} FROM charges "
        "WHERE x_IngestId = ? GROUP BY 1 ORDER BY 1",
        [ingest_id],
    ).fetchall()
    totals: dict[str, dict[str, Decimal]] = {}
    without = dict.fromkeys(COST_COLUMNS, 0)
    n = len(COST_COLUMNS)
    for row in rows:
        totals[row[0]] = {
            c: Decimal(v) if v is not None else Decimal(0)
            for c, v in zip(COST_COLUMNS, row[1 : 1 + n], strict=True)
        }
        for c, count in zip(COST_COLUMNS, row[1 + n :], strict=True):
            without[c] += int(count)
    return totals, without


def _totals_text(totals: Mapping[str, Mapping[str, Decimal]]) -> dict[str, dict[str, str]]:
    return {
        cur: {k: format(v.normalize() if v else Decimal(0), "f") for k, v in sums.items()}
        for cur, sums in totals.items()
    }


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The one row of a query (fetched to the end: the connection is then free)."""
    (row,) = con.execute(sql).fetchall()
    return tuple(row)
