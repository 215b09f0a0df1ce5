"""Checks of ``finops.allocation`` that the schema cannot make: one rule per dimension,
fixed splits that name values and sum to 100 %, shared values that are not split targets.

Problems name ``alignops.yaml``, the line (when the parsed document is at hand) and the
field, like every other config error (decision 0038).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from alignops.errors import ManifestError, Problem
from alignops.manifests.config import CONFIG_FILE, AllocationRule
from alignops.manifests.documents import Document, Path, format_path

__all__ = ["HUNDRED", "check_rules", "rule_problems"]

HUNDRED = Decimal(100)


def rule_problems(
    rules: Sequence[AllocationRule], *, document: Document | None = None
) -> list[Problem]:
    """What is wrong with ``rules`` (``finops.allocation`` in order), each problem at its
    field and, with the parsed ``alignops.yaml`` document, its line."""
    problems: list[Problem] = []

    def problem(path: Path, message: str) -> None:
        full: Path = ("finops", "allocation", *path)
        line = document.line_of(full) if document is not None else None
        problems.append(Problem(CONFIG_FILE, message, line=line, field=format_path(full)))

    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.dimension in seen:
            problem(
                (i, "dimension"),
                f"a second rule for {rule.dimension!r} (the first is "
                f"finops.allocation[{seen[rule.dimension]}]); give one rule per dimension",
            )
        seen.setdefault(rule.dimension, i)
        fixed = [name for name in ("untagged", "shared") if getattr(rule, name) == "fixed"]
        if fixed and not rule.split:
            problem((i, "split"), f"required when {' and '.join(fixed)} is 'fixed'")
            continue
        if not rule.split:
            continue
        for value, percent in rule.split.items():
            if percent < 0:
                problem((i, "split", value), f"must be 0 or more, got {percent}")
            if value in rule.shared_values:
                problem(
                    (i, "split", value),
                    f"{value!r} is one of sharedValues; shares go to the other values",
                )
        total = sum(rule.split.values(), Decimal(0))
        if total != HUNDRED:
            problem((i, "split"), f"percentages sum to {total.normalize():f}, not 100")
    return problems


def check_rules(rules: Sequence[AllocationRule], *, document: Document | None = None) -> None:
    """Raise :class:`ManifestError` (exit 2) listing every problem of ``rules``."""
    problems = rule_problems(rules, document=document)
    if problems:
        count = len(problems)
        raise ManifestError(
            f"{count} problem{'s' if count != 1 else ''} in {CONFIG_FILE} finops.allocation",
            problems=problems,
        )
