"""Telemetry segments → window counts, with DuckDB's JSON reader and numpy.

Parsing a million request bodies one by one in Python takes tens of seconds. Here, per
batch of segments, one DuckDB query counts requests (status, latency, cold starts: plain
columns) and a second one reads the answered requests' bodies on every core: it turns
``inputs`` and ``outputs`` JSON into typed values with ``from_json`` (a schema built from
the reference profile), unnests each request's rows in step with its predictions, and
puts each categorical value in its bin (a ``CASE`` over the reference's categories, or a
cast to an ``ENUM`` of them when there are many). numpy bins the numeric values
(``np.searchsorted`` over the reference's edges) and counts everything per window with
``np.bincount`` (decision 0029 has the figures).

How a live value is read, so that the counts equal ``Profile.count`` of the same rows:

- numeric feature: a JSON number, or a string holding one (``"42"``), as a float; true
  and false as 1 and 0; null, a missing key or anything else is missing (the last bin).
- categorical feature, protected attribute, prediction: the value as Python's ``str``
  writes the JSON value — ``"19"`` and ``19`` are both ``19``, ``1.0`` is ``1.0``, true is
  ``True`` — compared with the reference's categories (another value is "unseen"); null
  or a missing key is missing. DuckDB writes numbers as Python does (tested); booleans
  are mapped.
- a prediction is positive when it equals the positive label (as a number when both are
  numbers: ``1``, ``1.0`` and ``true`` are the same label).
- a body that is not JSON fails DuckDB's query; the batch is then read again with
  ``try(from_json(…))``, which reads such a body as unreadable (``try`` on every body
  costs ~10 %, so only then).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignops.evidence.profile import FeatureProfile
from alignops.monitor.latency import LatencyHistogram, bucket_indexes
from alignops.monitor.reference import Reference
from alignops.monitor.windows_data import Window

__all__ = ["SegmentKey", "count_windows", "is_positive", "label_text", "max_label"]

_KEY_FILTER = (
    "environment = $environment AND deployment = $deployment AND revision = $revision "
    'AND "timestamp" IS NOT NULL'
)

_CLASSES = f"""
SELECT try(from_json(outputs, '{{"classes": ["VARCHAR"]}}')).classes AS classes
FROM read_parquet($files)
WHERE {_KEY_FILTER} AND status < 400 AND outputs LIKE '%"classes"%'
LIMIT 50
"""


@dataclass(frozen=True, order=True)
class SegmentKey:
    """Whose requests a segment holds (a service process: one of each)."""

    environment: str
    deployment: str
    revision: str


# -- labels -----------------------------------------------------------------------------------


def label_text(text: str) -> str:
    """A JSON scalar read as text by DuckDB, as Python's ``str`` writes the value."""
    return {"true": "True", "false": "False"}.get(text, text)


def _label_value(text: str) -> float | str:
    text = label_text(text)
    if text in ("True", "False"):
        return float(text == "True")
    try:
        return float(text)
    except ValueError:
        return text


def is_positive(prediction: str, positive: str) -> bool:
    """Whether a prediction is the positive label (numbers compared as numbers)."""
    return _label_value(prediction) == _label_value(positive)


def max_label(labels: Sequence[str]) -> str:
    """The larger label (the gate's positive class): numerically if all are numbers."""
    values = [_label_value(label) for label in labels]
    if all(isinstance(v, float) for v in values):
        return labels[max(range(len(labels)), key=lambda i: values[i])]
    return max(labels)


# -- the query --------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Plan:
    """What to read from each row: features (by kind) and protected attributes."""

    features: dict[str, FeatureProfile]
    protected: tuple[str, ...]
    tolerant: bool = False
    """Read a body that is not JSON as unreadable (``try``) instead of failing the query:
    the ``try`` costs ~10 % of the query, so it is used only once a query has failed."""

    def schema(self) -> dict[str, str]:
        """``from_json``'s type of each key of a row."""
        types = {
            name: "DOUBLE" if f.kind == "numeric" and name not in self.protected else "VARCHAR"
            for name, f in self.features.items()
        }
        types.update({name: "VARCHAR" for name in self.protected})
        return types

    def columns(self, var: str) -> list[str]:
        """What each row gives: ``f<i>`` per feature (a float, a category's bin, or text
        for a numeric protected attribute) and ``g<j>`` per protected attribute."""
        out = []
        for i, (name, feature) in enumerate(self.features.items()):
            value = f"{var}.{_identifier(name)}"
            if feature.kind == "categorical":
                value = _category_bin(value, feature.categories)
            out.append(f"{value} AS f{i}")
        out += [f"{var}.{_identifier(name)} AS g{j}" for j, name in enumerate(self.protected)]
        return out

    def sql(self) -> str:
        """One row per row of each answered request whose body could be read (``ok``):
        its ``ts``, ``f<i>``, ``g<j>`` and prediction ``p``; and one row with ``ok``
        false per answered request whose body could not be read."""
        fairness = bool(self.protected)
        unnest = "unnest(CASE WHEN ok THEN r ELSE [NULL] END) AS x"
        if fairness:
            unnest += ", unnest(CASE WHEN ok THEN p ELSE [NULL] END) AS p"
        sql = _ROWS.format(
            outputs=_OUTPUTS if fairness else "",
            carry_p=", p" if fairness else "",
            same_length=" AND len(p) = len(coalesce(b.rows, b.instances))" if fairness else "",
            unnest=unnest,
            columns=", ".join([*self.columns("x"), *(["p"] if fairness else [])]),
        )
        if self.tolerant:
            sql = sql.replace("from_json(inputs, $inputs)", "try(from_json(inputs, $inputs))")
            sql = sql.replace("from_json(outputs, $outputs)", "try(from_json(outputs, $outputs))")
        return sql


_REQUESTS = f"""
SELECT epoch_us("timestamp") AS ts, coalesce(status < 400, false) AS answered, latency_ms,
       coalesce(cold_start, false) AS cold,
       coalesce(CASE WHEN cold_start THEN init_ms END, 0.0) AS init_ms,
       coalesce("rows", 0) AS scored
FROM read_parquet($files)
WHERE {_KEY_FILTER}
"""

# Unnesting every request's rows (in step with its predictions) and binning them in the
# same pass measured cheaper than taking each request's first row and reading the few
# longer bodies again (decision 0029).
_ROWS = f"""
WITH parsed AS (
  SELECT epoch_us("timestamp") AS ts, from_json(inputs, $inputs) AS b{{outputs}}
  FROM read_parquet($files)
  WHERE {_KEY_FILTER} AND status < 400
), judged AS (
  SELECT ts, coalesce(b.rows, b.instances) AS r{{carry_p}},
         coalesce((b.rows IS NULL) <> (b.instances IS NULL)
                  AND len(coalesce(b.rows, b.instances)) > 0{{same_length}}, false) AS ok
  FROM parsed
), unnested AS (
  SELECT ts, ok, {{unnest}} FROM judged
)
SELECT ts, ok, {{columns}} FROM unnested
"""

_OUTPUTS = ", from_json(outputs, $outputs).predictions AS p"

_CASE_LIMIT = 32
"""Up to this many categories, a chain of comparisons (measured faster than the ENUM
cast's hash lookup for the census codes); past it, the ENUM cast."""


def _category_bin(value: str, categories: tuple[str, ...]) -> str:
    """The bin of a categorical value: its category's index, ``unseen``, or missing."""
    unseen, missing = len(categories), len(categories) + 1
    if "True" in categories or "False" in categories:  # a JSON bool reads as true/false
        value = f"CASE {value} WHEN 'true' THEN 'True' WHEN 'false' THEN 'False' ELSE {value} END"
    other = f"CASE WHEN {value} IS NULL THEN {missing} ELSE {unseen} END"
    small = "UTINYINT" if missing < 256 else "USMALLINT" if missing < 65536 else "UINTEGER"
    if len(categories) <= _CASE_LIMIT:  # the value is compared, not evaluated, per WHEN
        chain = " ".join(f"WHEN {_literal(c)} THEN {i}" for i, c in enumerate(categories))
        return f"(CASE {value} {chain} ELSE {other} END)::{small}"
    members = ", ".join(_literal(c) for c in categories)
    return f"coalesce(enum_code(TRY_CAST({value} AS ENUM({members})))::{small}, {other})"


# -- counting ---------------------------------------------------------------------------------


def count_windows(
    connection: Any,
    paths: Sequence[Path],
    key: SegmentKey,
    reference: Reference,
    window_seconds: int,
) -> list[Window]:
    """The windows of ``key``'s requests in ``paths`` (DuckDB errors propagate)."""
    import duckdb

    params: dict[str, Any] = {
        "files": [str(p) for p in paths],
        "environment": key.environment,
        "deployment": key.deployment,
        "revision": key.revision,
    }
    profile = reference.profile
    plan = _Plan(profile.features if profile is not None else {}, reference.protected)
    table = connection.sql(_REQUESTS, params=params).to_arrow_table()
    if table.num_rows == 0:
        return []
    period = window_seconds * 1_000_000
    starts, codes = _windows(table.column("ts").to_numpy() // period)
    n = len(starts)

    def total(name: str) -> NDArray[np.float64]:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        sums: NDArray[np.float64] = np.bincount(codes, weights=values, minlength=n).astype(
            np.float64
        )
        return sums

    answered = table.column("answered").to_numpy(zero_copy_only=False).astype(bool)
    requests = np.bincount(codes, minlength=n)
    errors = requests - np.bincount(codes[answered], minlength=n)
    rows, cold, init_ms = total("scored"), total("cold"), total("init_ms")
    latency = _latency(codes, table.column("latency_ms").to_numpy(zero_copy_only=False), n)
    notes = () if profile is not None else (f"no reference profile: {reference.problem}",)
    counts = _Counts(n)
    if plan.features or plan.protected:
        query = {
            **params,
            "inputs": json.dumps({"rows": [plan.schema()], "instances": [plan.schema()]}),
        }
        if plan.protected:
            query["outputs"] = json.dumps({"predictions": ["VARCHAR"]})
        try:
            live = connection.sql(plan.sql(), params=query).to_arrow_table()
        except duckdb.Error:  # a body that is not JSON: again, reading it as unreadable
            plan = replace(plan, tolerant=True)
            live = connection.sql(plan.sql(), params=query).to_arrow_table()
        positive = None
        if plan.protected:
            positive = reference.positive or _positive_from_answers(connection, params)
        # Every answered request is in a window of the first query.
        live_codes = np.searchsorted(starts, live.column("ts").to_numpy() // period)
        counts.count(live, live_codes, plan, positive)
    source = reference.source if profile is not None else None
    return [
        Window(
            key.environment,
            key.deployment,
            key.revision,
            datetime.fromtimestamp(start * window_seconds, UTC),
            window_seconds,
            requests=int(requests[i]),
            errors=int(errors[i]),
            rows=int(rows[i]),
            cold_starts=int(cold[i]),
            cold_start_ms=float(init_ms[i]),
            latency=latency[i],
            features=counts.features(i),
            selections=counts.selections(i),
            unparsable=int(counts.unparsable[i]),
            reference=source,
            notes=notes,
        )
        for i, start in enumerate(starts.tolist())
    ]


def _windows(indexes: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """The distinct window indexes, sorted, and each request's position among them
    (``np.unique(…, return_inverse=True)`` without sorting a million values)."""
    low, high = int(indexes.min()), int(indexes.max())
    if high - low > 10 * len(indexes) + 1_000_000:  # scattered far apart: sort after all
        starts, codes = np.unique(indexes, return_inverse=True)
        return starts, codes.astype(np.intp)
    offsets = indexes - low
    present = np.bincount(offsets, minlength=high - low + 1) > 0
    position = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, position[offsets].astype(np.intp)


def _latency(
    codes: NDArray[np.intp], values: NDArray[np.float64], n: int
) -> list[LatencyHistogram]:
    present = ~np.isnan(values)
    if not present.any():
        return [LatencyHistogram.empty() for _ in range(n)]
    buckets = bucket_indexes(values[present])
    low = int(buckets.min())
    span = int(buckets.max()) - low + 1
    table = np.bincount(codes[present] * span + (buckets - low), minlength=n * span)
    out = []
    for row in table.reshape(n, span):
        (nonzero,) = np.nonzero(row)
        pairs = zip((nonzero + low).tolist(), row[nonzero].tolist(), strict=True)
        out.append(LatencyHistogram(dict(pairs)))
    return out


class _Counts:
    """Feature bin counts and selections per window (arrays of windows × bins)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.unparsable: NDArray[np.int64] = np.zeros(n, dtype=np.int64)
        self.tables: dict[str, tuple[FeatureProfile, NDArray[np.int64]]] = {}
        self.groups: dict[str, tuple[list[str], NDArray[np.int64], NDArray[np.int64]]] = {}

    def count(self, live: Any, codes: NDArray[np.intp], plan: _Plan, positive: str | None) -> None:
        """Count the rows of ``live`` (:meth:`_Plan.sql`), in windows ``codes``."""
        import pyarrow.compute as pc

        ok = live.column("ok").to_numpy(zero_copy_only=False).astype(bool)
        n = self.n
        self.unparsable = np.bincount(codes[~ok], minlength=n)
        # Rows of requests not read go to an extra window, n, dropped at the end: cheaper
        # than leaving them out of every column.
        slots = np.where(ok, codes, n)
        schema = plan.schema()
        for i, (name, template) in enumerate(plan.features.items()):
            values = live.column(f"f{i}")
            if template.kind == "numeric":
                bins = _numeric_bins(template, values, text=schema[name] == "VARCHAR")
            else:  # null where the request was not read: in window n
                bins = pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.intp)
            width = len(template.counts)
            flat = np.bincount(slots * width + bins, minlength=(n + 1) * width)
            self.tables[name] = (template, flat.reshape(n + 1, width)[:n])
        if positive is None:
            return
        pcodes, texts = _encode(live.column("p"))
        lookup = np.array([is_positive(t, positive) for t in texts] + [False])
        positives = lookup[pcodes].astype(np.float64)
        for j, attribute in enumerate(plan.protected):
            self.groups[attribute] = self._selections(live.column(f"g{j}"), slots, positives)

    def _selections(
        self, column: Any, slots: NDArray[np.intp], positives: NDArray[np.float64]
    ) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
        codes, texts = _encode(column)
        labels: dict[str, int] = {}
        group_of = [labels.setdefault(label_text(t), len(labels)) for t in texts]
        width = len(labels) + 1  # the last group: rows without the attribute
        groups = np.array([*group_of, len(labels)], dtype=np.intp)[codes]
        index = slots * width + groups
        size = (self.n + 1) * width
        rows = np.bincount(index, minlength=size).reshape(self.n + 1, width)
        hits = np.bincount(index, weights=positives, minlength=size).reshape(self.n + 1, width)
        return list(labels), rows[: self.n, :-1], hits[: self.n, :-1].astype(np.int64)

    def features(self, i: int) -> dict[str, FeatureProfile]:
        out = {}
        for name, (template, table) in self.tables.items():
            counts = table[i]
            if counts.any():
                out[name] = FeatureProfile(
                    name, template.kind, template.edges, template.categories,
                    tuple(int(c) for c in counts),
                )  # fmt: skip
        return out

    def selections(self, i: int) -> dict[str, dict[str, tuple[int, int]]]:
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for attribute, (labels, rows, positives) in self.groups.items():
            groups = {
                label: (int(rows[i, g]), int(positives[i, g]))
                for g, label in enumerate(labels)
                if rows[i, g]
            }
            if groups:
                out[attribute] = groups
        return out


def _encode(column: Any) -> tuple[NDArray[np.intp], list[str]]:
    """Codes of a string column's values (−1 where null) and the distinct strings."""
    import pyarrow.compute as pc

    if hasattr(column, "combine_chunks"):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp)
    return codes, encoded.dictionary.to_pylist()


def _numeric_bins(template: FeatureProfile, column: Any, *, text: bool) -> NDArray[np.intp]:
    """``np.searchsorted(edges, x, side="right")``; the last bin for missing values."""
    if text:  # a protected attribute too, read as text: each distinct value parsed once
        codes, texts = _encode(column)
        lookup = np.array([_number(t) for t in texts] + [np.nan])
        values = lookup[codes]
    else:
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    bins: NDArray[np.intp] = np.searchsorted(np.asarray(template.edges), values, side="right")
    bins[np.isnan(values)] = len(template.counts) - 1
    return bins


def _number(text: str) -> float:
    value = _label_value(text)
    return value if isinstance(value, float) else float("nan")


def _positive_from_answers(connection: Any, params: dict[str, Any]) -> str:
    """The larger of the model's classes, as its answers list them; else ``1``."""
    for (classes,) in connection.sql(_CLASSES, params=params).fetchall():
        if classes:
            return max_label([c for c in classes if c is not None] or ["1"])
    return "1"
