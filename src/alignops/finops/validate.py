"""The validation report of a FOCUS file: every problem found, counted, with example lines.

Checks run as SQL over a DuckDB view of the file as text (every rule in one pass, a
second for the rules that failed), in the manner of the FinOps Foundation's
focus_validator: mandatory columns present, values that do not cast to their type
(decimal, date-time, integer), values not allowed, nulls where the version allows none,
malformed key-value JSON (``Tags`` not JSON, or not an object), tag keys that collide
once normalized, periods that end before they start, currency codes, mixed currencies.
A problem never drops a row: the ingest keeps every row (a value that cannot be cast
becomes null) and the report says how many rows each problem touches and where the
first five are (docs/finops-ingest.md lists every rule).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from alignops.finops.focus import ColumnRule, FocusVersion, catalog
from alignops.finops.tags import collision_sql, is_object_sql, quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "EXAMPLE_LINES",
    "RULES",
    "FocusProblem",
    "RowChecks",
    "Severity",
    "TypedKind",
    "ValidationReport",
    "cast_sql",
    "column_problems",
    "row_problems",
    "typed_kinds",
    "typed_name",
]

Severity = Literal["error", "warning"]
EXAMPLE_LINES = 5
_EXAMPLE_VALUES = 3

RULES: Mapping[str, str] = {
    "column-missing": "a column the FOCUS version makes mandatory is not in the file",
    "column-not-focus": "a column that is neither FOCUS nor custom (x_ prefix); kept in x_Extra",
    "column-name-case": "a FOCUS column named in another letter case; read as the FOCUS column",
    "type-decimal": "not a decimal number; stored as null",
    "type-datetime": "not a date-time; stored as null",
    "type-integer": "not an integer; stored as null",
    "decimal-rounded": "more than 18 decimal places; stored rounded to 18",
    "datetime-format": "a date-time not written as FOCUS asks (YYYY-MM-DDTHH:mm:ssZ, UTC)",
    "currency-format": "not a three-letter ISO 4217 currency code",
    "value-not-allowed": "a value the FOCUS version does not allow in this column",
    "null-not-allowed": "null where the FOCUS version allows no null",
    "json-invalid": "key-value column that is not JSON; its tags are not read",
    "json-not-object": "key-value column that is JSON but not an object; its tags are not read",
    "tags-key-collision": "two tag keys that are equal once trimmed and case-folded; "
    "the first is kept",
    "period-order": "a period that ends at or before it starts",
    "currency-mixed": "more than one billing currency in the file; rows outside the most "
    "common one are counted",
}
"""Every rule id and what it means."""

_INTEGER_COLUMNS = ("x_InputTokens", "x_OutputTokens")
_PERIODS = (("ChargePeriodStart", "ChargePeriodEnd"), ("BillingPeriodStart", "BillingPeriodEnd"))


@dataclass(frozen=True, slots=True)
class FocusProblem:
    """One rule broken by ``count`` rows (or by the file, for column rules)."""

    rule: str
    column: str | None
    severity: Severity
    count: int
    lines: tuple[int, ...] = ()
    """Up to five of the file's line numbers (CSV: the header is line 1)."""
    examples: tuple[str, ...] = ()
    """Up to three distinct offending values, most frequent first."""

    @property
    def message(self) -> str:
        text = RULES[self.rule]
        if self.examples:
            text += ", e.g. " + ", ".join(repr(v) for v in self.examples)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "column": self.column,
            "severity": self.severity,
            "count": self.count,
            "lines": list(self.lines),
            "examples": list(self.examples),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FocusProblem:
        return cls(
            rule=data["rule"],
            column=data["column"],
            severity=data["severity"],
            count=int(data["count"]),
            lines=tuple(int(n) for n in data["lines"]),
            examples=tuple(data.get("examples", ())),
        )


@dataclass(frozen=True)
class ValidationReport:
    """What a file holds and what is wrong with it; stored as JSON in ``ingests.report``."""

    file: str
    format: str
    focus_version: FocusVersion
    detected_version: FocusVersion
    rows: int
    columns: tuple[str, ...]
    extra_columns: tuple[str, ...] = ()
    problems: tuple[FocusProblem, ...] = ()
    rows_with_errors: int = 0
    """Rows with at least one error-severity problem (all kept)."""
    rows_without_cost: dict[str, int] = field(default_factory=dict)
    """Per cost column (BilledCost, EffectiveCost, ListCost, ContractedCost): rows whose
    cost is null in the ledger (missing, or not a decimal)."""

    @property
    def errors(self) -> tuple[FocusProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[FocusProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "focusVersion": self.focus_version,
            "detectedVersion": self.detected_version,
            "rows": self.rows,
            "columns": list(self.columns),
            "extraColumns": list(self.extra_columns),
            "rowsWithErrors": self.rows_with_errors,
            "rowsWithoutCost": dict(self.rows_without_cost),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        return cls(
            file=data["file"],
            format=data["format"],
            focus_version=data["focusVersion"],
            detected_version=data["detectedVersion"],
            rows=int(data["rows"]),
            columns=tuple(data["columns"]),
            extra_columns=tuple(data["extraColumns"]),
            problems=tuple(FocusProblem.from_dict(p) for p in data["problems"]),
            rows_with_errors=int(data["rowsWithErrors"]),
            rows_without_cost={k: int(v) for k, v in data["rowsWithoutCost"].items()},
        )


def column_problems(
    version: FocusVersion, present: Sequence[str], renamed: Mapping[str, str], rows: int
) -> list[FocusProblem]:
    """Problems of the file's columns: mandatory ones missing (canonical names in
    ``present``), FOCUS columns named in another case (``renamed``: canonical → as the
    file names it). They touch every row, so they count ``rows`` and give no lines."""
    have = set(present)
    out = [
        FocusProblem("column-missing", name, "error", rows)
        for name, rule in catalog(version).items()
        if rule.mandatory and name not in have
    ]
    out += [
        FocusProblem("column-name-case", name, "warning", rows, examples=(original,))
        for name, original in sorted(renamed.items())
    ]
    return out


TypedKind = Literal["decimal", "datetime", "integer"]
_KINDS: dict[str, TypedKind] = {
    **{n: "decimal" for n, r in catalog("1.3").items() if r.kind == "decimal"},
    **{n: "datetime" for n, r in catalog("1.3").items() if r.kind == "datetime"},
    **dict.fromkeys(_INTEGER_COLUMNS, "integer"),
}


def typed_kinds(present: Sequence[str]) -> dict[str, TypedKind]:
    """The file's columns that hold numbers or date-times (in any FOCUS version, or the
    ledger's token counts), by name."""
    return {name: _KINDS[name] for name in present if name in _KINDS}


def typed_name(column: str) -> str:
    """The SQL name of a column's typed shadow (see :func:`cast_sql`)."""
    return quote_ident(f"__alignops_t_{column}")


def cast_sql(column: str, kind: TypedKind, *, native: bool = False) -> str:
    """A column's value in the ledger's type, NULL when its text does not cast: money and
    quantities ``DECIMAL(38, 18)`` (rounded to 18 places), date-times ``TIMESTAMP`` in UTC
    (text without an offset is UTC), counts ``BIGINT``. ``native``: the file already
    holds it typed (a Parquet DECIMAL or TIMESTAMP), nothing to parse."""
    col = quote_ident(column)
    if kind == "decimal":
        return f"TRY_CAST({col} AS DECIMAL(38, 18))"
    if kind == "integer":
        return f"TRY_CAST({col} AS BIGINT)"
    if native:
        return f"CAST({col} AS TIMESTAMP)"
    return f"CAST(TRY_CAST({col} AS TIMESTAMPTZ) AS TIMESTAMP)"


@dataclass(frozen=True, slots=True)
class _Check:
    rule: str
    column: str
    severity: Severity
    condition: str
    value: str | None
    """The offending value, to show examples of (None: no examples)."""


def _checks(
    version: FocusVersion,
    present: Sequence[str],
    unknown: Sequence[str],
    tag_keys: str | None,
    native: Collection[str],
) -> list[_Check]:
    rules = catalog(version)
    have = set(present)
    out: list[_Check] = []
    for name in present:
        rule = rules.get(name)
        if rule is not None:
            out += _value_checks(rule, name in native)
        elif name in _INTEGER_COLUMNS and name not in native:
            col = quote_ident(name)
            typed = typed_name(name)
            out.append(
                _Check("type-integer", name, "error", f"{col} IS NOT NULL AND {typed} IS NULL", col)
            )
    for start, end in _PERIODS:
        if start in have and end in have:
            s, e = typed_name(start), typed_name(end)
            out.append(_Check("period-order", end, "error", f"{e} <= {s}", None))
    if tag_keys is not None:
        out.append(_Check("tags-key-collision", "Tags", "warning", collision_sql(tag_keys), None))
    for name in unknown:
        if not name.startswith("x_"):
            col = quote_ident(name)
            out.append(_Check("column-not-focus", name, "warning", f"{col} IS NOT NULL", None))
    return out


def _value_checks(rule: ColumnRule, native: bool) -> list[_Check]:
    """The checks of one FOCUS column. Expensive tests sit behind a CASE so that DuckDB
    runs them only on the rows a cheap test cannot settle."""
    name = rule.name
    col, typed = quote_ident(name), typed_name(name)
    out: list[_Check] = []
    if not rule.nullable:
        severity: Severity = "error" if rule.mandatory else "warning"
        out.append(_Check("null-not-allowed", name, severity, f"{col} IS NULL", None))
    if native:
        return out
    given = f"{col} IS NOT NULL AND "
    if rule.kind == "decimal":
        out.append(_Check("type-decimal", name, "error", given + f"{typed} IS NULL", col))
        dot = f"strpos({col}, '.')"
        long = f"{dot} > 0 AND length({col}) - {dot} > 18"
        out.append(
            _Check(
                "decimal-rounded",
                name,
                "warning",
                f"CASE WHEN {long} THEN regexp_matches({col}, '\\.[0-9]{{18}}[0-9]*[1-9]') "
                "ELSE false END",
                col,
            )
        )
    elif rule.kind == "datetime":
        out.append(_Check("type-datetime", name, "error", given + f"{typed} IS NULL", col))
        strict = f"({col} LIKE '____-__-__T__:__:__Z' OR {col} LIKE '____-__-__T__:__:__.%Z')"
        out.append(
            _Check("datetime-format", name, "warning", f"{typed} IS NOT NULL AND NOT {strict}", col)
        )
    elif rule.kind == "currency":
        out.append(
            _Check(
                "currency-format",
                name,
                "error",
                given + f"NOT regexp_full_match({col}, '[A-Z]{{3}}')",
                col,
            )
        )
    elif rule.kind == "json-object":
        out.append(_Check("json-invalid", name, "error", given + f"NOT json_valid({col})", col))
        out.append(
            _Check(
                "json-not-object",
                name,
                "error",
                given + f"json_valid({col}) AND NOT {is_object_sql(col)}",
                col,
            )
        )
    if rule.allowed is not None:
        values = ", ".join(quote_literal(v) for v in sorted(rule.allowed))
        out.append(
            _Check("value-not-allowed", name, "error", given + f"{col} NOT IN ({values})", col)
        )
    return out


@dataclass(frozen=True, slots=True)
class RowChecks:
    """What :func:`row_problems` found: the problems, the rows read, and how many of
    them have at least one error."""

    problems: list[FocusProblem]
    rows: int
    rows_with_errors: int


def row_problems(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    line: str,
    version: FocusVersion,
    present: Sequence[str],
    unknown: Sequence[str] = (),
    tag_keys: str | None = None,
    native: Collection[str] = (),
) -> RowChecks:
    """Run every row check over ``table`` (a table or view of the file: ``present``, its
    FOCUS and ledger columns as text, named as FOCUS names them; ``unknown``, its other
    columns; ``line``, the column of each row's line number; ``tag_keys``, the column of
    normalized tag keys, if the file has Tags; each number and date-time column also as
    its typed shadow, :func:`typed_name`, cast by :func:`cast_sql`; ``native``: columns
    the file holds typed already, whose text is not checked).

    At most two passes, so a file is read twice at most: the first counts every rule,
    the second, only if something failed, finds the first lines, example values and
    the rows with errors of the rules that failed."""
    checks = _checks(version, present, unknown, tag_keys, native)
    counts = [f"count_if({c.condition})" for c in checks]
    currency = '"BillingCurrency"' if "BillingCurrency" in present else None
    if currency:
        counts += [f"count(DISTINCT {currency})", f"mode({currency})"]
    (first,) = con.execute(f"SELECT count(*), {', '.join(counts) or '0'} FROM {table}").fetchall()
    rows = int(first[0])
    failing = [(c, int(n)) for c, n in zip(checks, first[1:], strict=False) if n]
    if currency and first[-2] > 1:
        main = quote_literal(str(first[-1]))
        mixed = _Check(
            "currency-mixed", "BillingCurrency", "warning", f"{currency} <> {main}", currency
        )
        failing.append((mixed, -1))
    if not failing:
        return RowChecks([], rows, 0)
    selects = []
    for check, _ in failing:
        selects.append(f"min({line}, {EXAMPLE_LINES}) FILTER (WHERE {check.condition})")
        value = check.value or "NULL"
        selects.append(f"approx_top_k({value}, {_EXAMPLE_VALUES}) FILTER (WHERE {check.condition})")
        if check.rule == "currency-mixed":
            selects.append(f"count_if({check.condition})")
    errors = [f"({c.condition})" for c, _ in failing if c.severity == "error"]
    selects.append(f"count_if({' OR '.join(errors) or 'false'})")
    (second,) = con.execute(f"SELECT {', '.join(selects)} FROM {table}").fetchall()
    problems: list[FocusProblem] = []
    at = 0
    for check, count in failing:
        lines, examples = second[at] or (), second[at + 1] or ()
        at += 2
        if count < 0:
            count = int(second[at])
            at += 1
        problems.append(
            FocusProblem(
                check.rule,
                check.column,
                check.severity,
                count,
                tuple(int(n) for n in lines),
                tuple(str(v) for v in examples if v is not None) if check.value else (),
            )
        )
    return RowChecks(problems, rows, int(second[-1]))
