"""Tags: normalized keys and the governed dimensions, as DuckDB SQL over a whole file.

A FOCUS ``Tags`` value is a JSON object. Its keys are normalized — spaces trimmed at
both ends, then case-folded (lower case, as DuckDB's ``lower``) — into ``x_Tags``; when two
keys fold to the same one (`` Team `` and ``TEAM``) the first in the object wins and the
row is reported. Values are kept as they are in ``x_Tags`` (strings, numbers, nested
JSON); the governed dimensions (``finops.governedTags``: dimension → keys, first match
wins) take the value as text, spaces trimmed, case kept, an empty value counting as
none. A governed key ``team`` also matches the tag ``user:team`` (AWS writes
user-defined cost allocation tags with that prefix), right after ``team`` itself; other
prefixed keys (``aws:createdBy``) match only when named in full.

Everything here builds SQL expressions over three lists per row — the normalized keys,
the values as text and the values as JSON, in the object's order — so a file of ten
million rows is parsed by DuckDB in parallel, not row by row in Python, and without
building a MAP per row (five times slower; decision 0037).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "TRIMMED",
    "USER_PREFIX",
    "collision_sql",
    "dimension_sql",
    "governed_candidates",
    "is_object_sql",
    "normalize_key",
    "quote_ident",
    "quote_literal",
    "tag_json_values_sql",
    "tag_keys_sql",
    "tag_values_sql",
    "tags_json_sql",
]

USER_PREFIX = "user:"
TRIMMED = " "
"""What trimming removes from keys and governed values (tag keys and values of the
clouds allow no other white space)."""


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def normalize_key(key: str) -> str:
    """A tag key as ``x_Tags`` holds it: spaces trimmed, then lower-cased."""
    return key.strip(TRIMMED).lower()


def governed_candidates(keys: Sequence[str]) -> list[str]:
    """The normalized tag keys tried for a dimension, in order: each key, then the same
    key with the ``user:`` prefix."""
    out: list[str] = []
    for key in keys:
        folded = normalize_key(key)
        for candidate in (folded, USER_PREFIX + folded):
            if candidate.startswith(USER_PREFIX + USER_PREFIX) or candidate in out:
                continue
            out.append(candidate)
    return out


def is_object_sql(column: str) -> str:
    """True when ``column`` holds a JSON object (never evaluates JSON functions on text
    that is not JSON, which would raise)."""
    return f"(CASE WHEN json_valid({column}) THEN json_type({column}) = 'OBJECT' ELSE false END)"


def tag_keys_sql(column: str) -> str:
    """The object's keys, normalized, in order (NULL when the value is not a JSON object)."""
    return (
        f"CASE WHEN {is_object_sql(column)} THEN "
        f"list_transform(json_keys({column}), lambda k: lower(trim(k))) END"
    )


def tag_values_sql(column: str) -> str:
    """The object's values as text, in the order of :func:`tag_keys_sql` (JSON null: NULL;
    a number: its digits; a nested object or array: its JSON text)."""
    return f"CASE WHEN {is_object_sql(column)} THEN json_extract_string({column}, '$.*') END"


def tag_json_values_sql(column: str) -> str:
    """The object's values as JSON text, in the order of :func:`tag_keys_sql`."""
    return f"CASE WHEN {is_object_sql(column)} THEN json_extract({column}, '$.*') END"


def collision_sql(keys: str) -> str:
    """True when two keys of the row fold to the same normalized key."""
    return f"(list_unique({keys}) < len({keys}))"


def tags_json_sql(column: str, keys: str, json_values: str) -> str:
    """``x_Tags``: the object with normalized keys, the first of each, as JSON text (NULL
    when the tags are not a JSON object). When normalizing changed nothing, that is the
    original text, as it is (rebuilding every row would be work for nothing)."""
    kept = f"list_filter(range(1, len({keys}) + 1), lambda i: list_position({keys}, {keys}[i]) = i)"
    pairs = f"list_transform({kept}, lambda i: to_json({keys}[i]) || ':' || {json_values}[i])"
    rebuilt = f"'{{' || array_to_string({pairs}, ',') || '}}'"
    return (
        f"CASE WHEN {keys} IS NULL THEN NULL "
        f"WHEN {keys} <> json_keys({column}) OR {collision_sql(keys)} THEN {rebuilt} "
        f"ELSE {column} END"
    )


def dimension_sql(
    keys: str, values: str, governed: Sequence[str], explicit: str | None = None
) -> str:
    """A governed dimension: ``explicit`` (an expression, e.g. the file's own ``x_Team``
    column) when it has a value, else the trimmed value of the first candidate key
    (:func:`governed_candidates`) with a non-empty value; ``list_position`` finds the
    first of colliding keys, as ``x_Tags`` keeps it."""
    parts = [f"nullif(trim({explicit}), '')"] if explicit else []
    parts += [
        f"nullif(trim({values}[list_position({keys}, {quote_literal(key)})]), '')"
        for key in governed_candidates(governed)
    ]
    if not parts:
        return "CAST(NULL AS VARCHAR)"
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
