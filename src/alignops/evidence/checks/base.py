"""What every evidence check shares: its inputs, its result, the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from alignops.errors import EvidenceError
from alignops.evidence.artifacts import LoadedDataset, LoadedModel

if TYPE_CHECKING:  # numpy and pandas load when a check runs, not when the gate starts
    import numpy as np
    import pandas as pd

__all__ = [
    "CHECKS",
    "CheckConfig",
    "CheckResult",
    "CheckSpec",
    "EvidenceInputs",
    "as_positive",
    "register",
]

Activity = Literal["fairness-audit", "explainability", "drift-monitoring", "performance-evaluation"]


class CheckConfig(BaseModel):
    """Base of check configurations (part of the evidence key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class EvidenceInputs:
    """A model and its data, as the checks see them; predictions computed once."""

    model: LoadedModel
    evaluation: LoadedDataset
    reference: LoadedDataset | None
    features: tuple[str, ...]
    task: Literal["classification", "regression"]
    seed: int

    def frame(self, dataset: LoadedDataset) -> pd.DataFrame:
        missing = [f for f in self.features if f not in dataset.frame.columns]
        if missing:
            raise EvidenceError(
                f"dataset {dataset.name} lacks the model's features: {', '.join(missing)}"
            )
        result: pd.DataFrame = dataset.frame[list(self.features)]
        return result

    @cached_property
    def X(self) -> pd.DataFrame:
        return self.frame(self.evaluation)

    @cached_property
    def y_true(self) -> np.ndarray:
        label = self.evaluation.label
        if not label:
            raise EvidenceError(f"dataset {self.evaluation.name} has no spec.label")
        import numpy as np

        return np.asarray(self.evaluation.frame[label])

    @cached_property
    def y_pred(self) -> np.ndarray:
        import numpy as np

        try:
            return np.asarray(self.model.estimator.predict(self.X))
        except Exception as exc:  # noqa: BLE001 - the user's model failed
            raise EvidenceError(
                f"model {self.model.name} failed to predict on {self.evaluation.name}: {exc}"
            ) from None

    @cached_property
    def score(self) -> np.ndarray | None:
        """Probability of the positive class, for classifiers that give one."""
        if self.task != "classification" or not hasattr(self.model.estimator, "predict_proba"):
            return None
        import numpy as np

        try:
            return np.asarray(self.model.estimator.predict_proba(self.X))[:, 1]
        except Exception as exc:  # noqa: BLE001 - the user's model failed
            raise EvidenceError(
                f"model {self.model.name} failed to score {self.evaluation.name}: {exc}"
            ) from None


def as_positive(values: np.ndarray, classes: Any) -> np.ndarray:
    """Binary predictions or labels as 0/1, the positive class being the larger label
    (of the model's ``classes_`` when it has them)."""
    import numpy as np

    labels = np.unique(values) if classes is None else np.asarray(classes)
    if len(labels) > 2:
        raise EvidenceError("this metric needs a binary classifier")
    positive = labels.max() if len(labels) else 1
    result: np.ndarray = (values == positive).astype(np.int64)
    return result


@dataclass(frozen=True)
class CheckResult:
    metrics: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)
    rows: int = 0


@dataclass(frozen=True)
class CheckSpec:
    name: str
    activity: Activity
    config: type[CheckConfig]
    run: Callable[[EvidenceInputs, Any], CheckResult]


CHECKS: dict[str, CheckSpec] = {}


def register(
    name: str, *, activity: Activity, config: type[CheckConfig]
) -> Callable[[Callable[[EvidenceInputs, Any], CheckResult]], Callable[..., CheckResult]]:
    def add(run: Callable[[EvidenceInputs, Any], CheckResult]) -> Callable[..., CheckResult]:
        if name in CHECKS:
            raise RuntimeError(f"evidence check {name!r} registered twice")
        CHECKS[name] = CheckSpec(name, activity, config, run)
        return run

    return add
