"""A module the handlers import from the same repository."""

from __future__ import annotations

from typing import Any


def total(items: list[dict[str, Any]]) -> float:
    return round(sum(i["price"] * i.get("quantity", 1) for i in items), 2)
