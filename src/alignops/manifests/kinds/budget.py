"""``Budget``: money a scope of resources may spend in a period, with alert thresholds."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

from pydantic import Field

from alignops.manifests.base import Name, ResourceModel, Spec, register_kind

__all__ = ["GOVERNED_DIMENSIONS", "Budget", "BudgetScope", "BudgetSpec", "BudgetThreshold"]


class BudgetThreshold(Spec):
    percent: float = Field(gt=0, le=1000)
    basis: Literal["actual", "forecast"] = "actual"


GovernedDimension = Literal["model", "team", "env", "activity", "cost_center"]
GOVERNED_DIMENSIONS: tuple[str, ...] = get_args(GovernedDimension)
"""The cost ledger's dimensions (``alignops.finops.ledger.DIMENSIONS``; kept equal by a test)."""


class BudgetScope(Spec):
    tags: dict[GovernedDimension, str] = Field(
        default_factory=dict, description="governed tags that must all match, e.g. team: risk"
    )


def _default_thresholds() -> list[BudgetThreshold]:
    return [BudgetThreshold(percent=p) for p in (50, 80, 100)]


class BudgetSpec(Spec):
    amount: Decimal = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    period: Literal["monthly", "quarterly", "yearly"] = "monthly"
    scope: BudgetScope = Field(default_factory=BudgetScope)
    thresholds: list[BudgetThreshold] = Field(default_factory=_default_thresholds)
    routes: list[Name] = Field(default_factory=list, description="AlertRoute names to notify")


@register_kind("Budget")
class Budget(ResourceModel):
    """An amount per period for costs matching tags, with thresholds on actual and forecast."""

    kind: Literal["Budget"]
    spec: BudgetSpec

    def references(self) -> list[tuple[str, str]]:
        return [(f"spec.routes[{i}]", f"AlertRoute/{r}") for i, r in enumerate(self.spec.routes)]
