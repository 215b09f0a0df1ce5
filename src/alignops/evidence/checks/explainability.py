"""``explainability``: how well the model can be explained, and the report that shows it.

Score (in [0, 1]): held-out fidelity of a global surrogate — a decision tree of depth 5
trained on half of the evaluation rows to mimic the model's predictions and scored on the
other half (agreement for classifiers, R² for regressors). It is reported only if

- SHAP additivity holds: for every explained row, the SHAP values plus the base value
  equal the model's raw output (within 1e-6 relative, 1e-4 absolute), and
- the top-10 features by mean |SHAP| are stable: over bootstrap resamples of the
  explained rows the top-10 set keeps a Jaccard similarity ≥ 0.8 with the full sample's.

Otherwise the result is invalid and says why; the gate treats that as failing. The
report (PDF or HTML) shows the score, global SHAP importance, local explanations for
sampled rows, and the surrogate tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alignops.errors import EvidenceError
from alignops.evidence.checks.base import CheckConfig, CheckResult, EvidenceInputs, register

if TYPE_CHECKING:  # loaded when the check runs, not when the gate starts
    import numpy as np
    import pandas as pd

__all__ = ["ExplainabilityConfig", "explainability"]

STABILITY_MIN = 0.8


class ExplainabilityConfig(CheckConfig):
    format: Literal["PDF", "HTML"] = "PDF"
    sample: int = 1000
    background: int = 200
    top_k: int = 10
    resamples: int = 20
    surrogate_depth: int = 5
    local_rows: int = 3


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    """Columns as numbers for the surrogate tree: categories become their codes."""
    import numpy as np
    import pandas as pd

    columns = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            columns.append(pd.factorize(column.astype(str), sort=True)[0].astype(float))
        else:
            columns.append(column.to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack(columns)


def _unwrap(estimator: Any) -> Any:
    """The scoring model inside wrappers that only move the decision threshold."""
    inner = getattr(estimator, "estimator", None)
    while inner is not None and hasattr(inner, "predict"):
        estimator, inner = inner, getattr(inner, "estimator", None)
    return estimator


def _split_pipeline(model: Any, columns: list[str]) -> tuple[Any, Any, list[str]]:
    """(transform, final estimator, original column of each transformed feature)."""
    steps = getattr(model, "steps", None)
    if not steps:
        return (lambda X: X), model, columns
    head, final = model[:-1], model[-1]
    try:
        names = [str(n) for n in head.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - transformers without names
        names = [f"x{i}" for i in range(len(columns))]
    origin = [
        next((c for c in columns if n == c or n.endswith(f"__{c}") or n.startswith(f"{c}_")), n)
        for n in names
    ]
    return head.transform, final, origin


def _raw_output(final: Any, Z: Any) -> np.ndarray:
    """The output TreeExplainer and LinearExplainer explain (log-odds or probability)."""
    import warnings

    import numpy as np

    kind = type(final).__name__
    with warnings.catch_warnings():
        # Z is the matrix SHAP explains, without the column names the model was fitted on.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        if kind.startswith(("GradientBoosting", "HistGradientBoosting", "Logistic")) and hasattr(
            final, "decision_function"
        ):
            return np.asarray(final.decision_function(Z), dtype=float)
        if hasattr(final, "predict_proba"):
            return np.asarray(final.predict_proba(Z), dtype=float)[:, 1]
        return np.asarray(final.predict(Z), dtype=float)


def _output_scale(final: Any) -> str:
    kind = type(final).__name__
    if kind.startswith(("GradientBoosting", "HistGradientBoosting", "Logistic")):
        return "log-odds"
    return "probability" if hasattr(final, "predict_proba") else "prediction"


def _shap(final: Any, Z: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    import numpy as np
    import shap

    if hasattr(final, "tree_") or hasattr(final, "estimators_"):
        explanation = shap.TreeExplainer(final)(Z, check_additivity=False)
        kind = "tree"
    elif hasattr(final, "coef_"):
        explanation = shap.LinearExplainer(final, background)(Z)
        kind = "linear"
    else:
        explanation = shap.PermutationExplainer(lambda z: _raw_output(final, z), background)(
            Z[: min(len(Z), 200)]
        )
        kind = "permutation"
    values = np.asarray(explanation.values, dtype=float)
    base = np.asarray(explanation.base_values, dtype=float)
    if values.ndim == 3:  # one slice per class: explain the positive class
        values, base = values[:, :, -1], base[:, -1] if base.ndim == 2 else base
    return values, np.broadcast_to(base, (len(values),)), kind


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@register("explainability", activity="explainability", config=ExplainabilityConfig)
def explainability(inputs: EvidenceInputs, config: ExplainabilityConfig) -> CheckResult:
    import numpy as np
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    rng = np.random.default_rng(inputs.seed)
    X = inputs.X
    columns = list(X.columns)
    n = len(X)
    if n < 20:
        raise EvidenceError(f"{inputs.evaluation.name}: too few rows ({n}) to explain")
    # Surrogate fidelity, held out.
    order = rng.permutation(n)
    fit_rows, test_rows = order[: n // 2], order[n // 2 :]
    Xn = _numeric(X)
    target = inputs.y_pred
    if inputs.task == "classification":
        tree = DecisionTreeClassifier(max_depth=config.surrogate_depth, random_state=0)
        tree.fit(Xn[fit_rows], target[fit_rows])
        fidelity = float(np.mean(tree.predict(Xn[test_rows]) == target[test_rows]))
    else:
        tree = DecisionTreeRegressor(max_depth=config.surrogate_depth, random_state=0)
        tree.fit(Xn[fit_rows], target[fit_rows])
        fidelity = float(tree.score(Xn[test_rows], target[test_rows]))
    surrogate_text = export_text(tree, feature_names=columns, max_depth=config.surrogate_depth)

    # SHAP on a sample, and its additivity.
    scorer = _unwrap(inputs.model.estimator)
    transform, final, origin = _split_pipeline(scorer, columns)
    sample_rows = rng.choice(n, size=min(n, config.sample), replace=False)
    background_rows = rng.choice(n, size=min(n, config.background), replace=False)
    sample = X.iloc[np.sort(sample_rows)]
    Z = np.asarray(transform(sample), dtype=float)
    background = np.asarray(transform(X.iloc[np.sort(background_rows)]), dtype=float)
    values, base, explainer = _shap(final, Z, background)
    output = _raw_output(final, Z[: len(values)])
    error = np.abs(values.sum(axis=1) + base - output)
    tolerance = np.maximum(1e-4, 1e-6 * np.abs(output))
    additivity_ok = bool(np.all(error <= tolerance))

    # Global importance per original column, and its stability.
    per_column = pd.DataFrame(np.abs(values), columns=origin).T.groupby(level=0).sum().T
    importance = per_column.mean().sort_values(ascending=False)
    k = min(config.top_k, len(importance))
    top = set(importance.index[:k])
    jaccards = []
    for _ in range(config.resamples):
        pick = rng.integers(0, len(per_column), len(per_column))
        again = per_column.iloc[pick].mean().sort_values(ascending=False)
        jaccards.append(_jaccard(top, set(again.index[:k])))
    stability = min(jaccards) if jaccards else 1.0

    reasons = []
    if not additivity_ok:
        reasons.append(
            f"SHAP additivity fails: |Σφ + base − output| up to {float(error.max()):.3g}"
        )
    if stability < STABILITY_MIN:
        reasons.append(f"top-{k} features are unstable: Jaccard {stability:.2f} < {STABILITY_MIN}")
    valid = not reasons

    local = []
    signed = pd.DataFrame(values, columns=origin).T.groupby(level=0).sum().T
    for i in rng.choice(len(signed), size=min(config.local_rows, len(signed)), replace=False):
        row = signed.iloc[int(i)]
        top_row = row.reindex(row.abs().sort_values(ascending=False).index[:8])
        local.append(
            {
                "row": int(sample.index[int(i)]),
                "base": float(base[int(i)]),
                "output": float(output[int(i)]),
                "contributions": [
                    {"feature": f, "value": str(sample.iloc[int(i)][f]), "shap": float(v)}
                    for f, v in top_row.items()
                ],
            }
        )
    metrics: dict[str, Any] = {
        "score": fidelity if valid else None,
        "valid": valid,
        "reasons": reasons,
        "fidelity": fidelity,
        "task": inputs.task,
        "surrogate": {
            "depth": config.surrogate_depth,
            "rows": len(test_rows),
            "text": surrogate_text,
        },
        "additivity": {"ok": additivity_ok, "maxError": float(error.max()), "rows": len(values)},
        "stability": {
            "topK": k,
            "minJaccard": stability,
            "meanJaccard": float(np.mean(jaccards)) if jaccards else 1.0,
            "resamples": config.resamples,
        },
        "explainer": explainer,
        "outputScale": _output_scale(final),
        "globalImportance": [
            {"feature": f, "meanAbsShap": float(v)} for f, v in importance.items()
        ],
        "local": local,
    }
    from alignops.evidence.report import render_explainability

    name = "explainability.pdf" if config.format == "PDF" else "explainability.html"
    report = render_explainability(inputs, metrics, fmt=config.format)
    return CheckResult(metrics, {name: report}, rows=n)
