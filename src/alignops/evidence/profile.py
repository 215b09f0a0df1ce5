"""Reference profiles of tabular data, and the population stability index (PSI).

The definition (fixed; evidence computed with it must stay comparable):

- bins are fixed from the reference data and stored in its profile. A numeric feature has
  10 quantile bins (deciles): the interior edges are the 10 %, 20 %, …, 90 % quantiles of
  the reference's non-missing values — ``np.quantile``'s default "linear" method, computed
  here from one sort with the same arithmetic, bit for bit — duplicates removed
  (``np.unique``), so there are at most 9 edges and 10 bins; a value ``x`` falls in bin
  ``np.searchsorted(edges, x, side="right")`` — bin i holds edges[i−1] ≤ x < edges[i].
  ±inf are ordinary values (where an infinite neighbour makes the interpolation undefined,
  NaN in numpy, the edge is the nearer of the two order statistics). A categorical feature
  has one bin per category seen in the reference — values compared as strings,
  ``str(value)``, in sorted order — plus one last bin for categories the reference did not
  have ("unseen"). Both kinds end with one bin for missing values (None, NaN, NA).
- a column is categorical if its dtype is category, object, string or bool, or it is listed
  in ``categorical``; otherwise numeric.
- proportions are counts over the profile's rows (missing values included); the proportion
  of an empty bin is floored at 1e-4 (non-empty bins keep their proportion).
- PSI = Σ over bins (a − e)·ln(a / e), e the reference proportion and a the current one.
- profiles are counts, so they merge: the profile of chunks or partitions added together
  (``+``) equals the profile of the whole data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from numpy.typing import NDArray

from alignops.evidence.kernels import factorize_as_strings

__all__ = ["FeatureProfile", "Profile", "psi", "psi_by_feature"]

DECILES: tuple[float, ...] = tuple(i / 10 for i in range(1, 10))
FLOOR = 1e-4

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureProfile:
    """The bins of one feature and the count of rows in each."""

    name: str
    kind: Kind
    edges: tuple[float, ...]
    categories: tuple[str, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        where = f"profile of feature {self.name!r}"
        if self.kind == "numeric":
            if self.categories:
                raise ValueError(f"{where}: a numeric feature has no categories")
            if any(math.isnan(e) for e in self.edges) or any(
                a >= b for a, b in pairwise(self.edges)
            ):
                raise ValueError(f"{where}: edges must be increasing numbers")
            bins = len(self.edges) + 2
        elif self.kind == "categorical":
            if self.edges:
                raise ValueError(f"{where}: a categorical feature has no edges")
            if any(a >= b for a, b in pairwise(self.categories)):
                raise ValueError(f"{where}: categories must be sorted and distinct")
            bins = len(self.categories) + 2
        else:
            raise ValueError(f"{where}: kind must be 'numeric' or 'categorical'")
        if len(self.counts) != bins:
            raise ValueError(f"{where}: expected {bins} counts, got {len(self.counts)}")
        if any(c < 0 for c in self.counts):
            raise ValueError(f"{where}: counts must not be negative")

    @property
    def rows(self) -> int:
        return sum(self.counts)

    def same_bins(self, other: FeatureProfile) -> bool:
        return (self.kind, self.edges, self.categories) == (
            other.kind,
            other.edges,
            other.categories,
        )

    def proportions(self, *, floor: float = FLOOR) -> NDArray[np.float64]:
        """Share of rows in each bin, empty bins floored at ``floor``."""
        if not 0.0 < floor < 1.0:
            raise ValueError(f"floor must be between 0 and 1; got {floor}")
        counts = np.asarray(self.counts, dtype=np.float64)
        total = counts.sum()
        if total == 0:
            raise ValueError(f"profile of feature {self.name!r} has no rows")
        result: NDArray[np.float64] = np.where(counts == 0, floor, counts / total)
        return result

    def _count(self, column: Any) -> FeatureProfile:
        """A profile with these bins and the counts of ``column``'s values."""
        if self.kind == "numeric":
            counts = _numeric_counts(_numbers(self.name, column), self.edges)
        else:
            codes, labels = factorize_as_strings(column)
            counts = _categorical_counts(codes, labels, self.categories)
        return FeatureProfile(self.name, self.kind, self.edges, self.categories, counts)

    def _merge(self, other: FeatureProfile) -> FeatureProfile:
        if self.name != other.name or not self.same_bins(other):
            raise ValueError(f"cannot add profiles of feature {self.name!r}: their bins differ")
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return FeatureProfile(self.name, self.kind, self.edges, self.categories, counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "edges": [e if math.isfinite(e) else repr(e) for e in self.edges],
            "categories": list(self.categories),
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, name: str, data: Any) -> FeatureProfile:
        try:
            edges = tuple(float(e) for e in data["edges"])
            categories = tuple(data["categories"])
            counts = tuple(data["counts"])
            kind = data["kind"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed profile of feature {name!r}: {exc}") from None
        if not all(isinstance(c, str) for c in categories):
            raise ValueError(f"malformed profile of feature {name!r}: categories must be strings")
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise ValueError(f"malformed profile of feature {name!r}: counts must be integers")
        return cls(name, kind, edges, categories, counts)


@dataclass(frozen=True)
class Profile:
    """Profiles of the features of one data set, all over the same ``rows``."""

    rows: int
    features: dict[str, FeatureProfile]

    def __post_init__(self) -> None:
        for name, feature in self.features.items():
            if feature.name != name:
                raise ValueError(f"profile of feature {feature.name!r} filed under {name!r}")
            if feature.rows != self.rows:
                raise ValueError(
                    f"profile of feature {name!r} counts {feature.rows} rows, not {self.rows}"
                )

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        features: Sequence[str],
        *,
        categorical: Collection[str] = (),
    ) -> Profile:
        """Fix the bins from reference data and count it."""
        _check_columns(frame, features)
        if len(frame) == 0:
            raise ValueError("the reference data has no rows")
        profiles: dict[str, FeatureProfile] = {}
        for name in features:
            column = frame[name]
            if name in categorical or _is_categorical(column.dtype):
                codes, labels = factorize_as_strings(column)
                categories = tuple(sorted(set(labels)))
                counts = _categorical_counts(codes, labels, categories)
                profiles[name] = FeatureProfile(name, "categorical", (), categories, counts)
            else:
                values = _numbers(name, column)
                edges = _decile_edges(values)
                counts = _numeric_counts(values, edges)
                profiles[name] = FeatureProfile(name, "numeric", edges, (), counts)
        return cls(len(frame), profiles)

    def count(self, frame: pd.DataFrame) -> Profile:
        """A profile of other data (current, a chunk, a partition) in these bins."""
        _check_columns(frame, list(self.features))
        return Profile(
            len(frame),
            {name: feature._count(frame[name]) for name, feature in self.features.items()},
        )

    def __add__(self, other: Profile) -> Profile:
        if not isinstance(other, Profile):
            return NotImplemented
        if set(self.features) != set(other.features):
            raise ValueError(
                "cannot add profiles of different features: "
                f"{sorted(self.features)} and {sorted(other.features)}"
            )
        return Profile(
            self.rows + other.rows,
            {name: f._merge(other.features[name]) for name, f in self.features.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form (no NaN or infinity); :meth:`from_dict` restores it."""
        return {
            "rows": self.rows,
            "features": {name: feature.to_dict() for name, feature in self.features.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> Profile:
        try:
            rows = data["rows"]
            features = data["features"]
            items = list(features.items())
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed profile: {exc!r}") from None
        if not isinstance(rows, int) or isinstance(rows, bool):
            raise ValueError("malformed profile: rows must be an integer")
        return cls(rows, {name: FeatureProfile.from_dict(name, f) for name, f in items})


def psi(reference: FeatureProfile, current: FeatureProfile, *, floor: float = FLOOR) -> float:
    """Population stability index of ``current`` against ``reference`` (same bins)."""
    if not reference.same_bins(current):
        raise ValueError(
            f"cannot compare feature {current.name!r} with {reference.name!r}: their bins differ"
        )
    e = reference.proportions(floor=floor)
    a = current.proportions(floor=floor)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_by_feature(
    reference: Profile, current: Profile, *, floor: float = FLOOR
) -> dict[str, float]:
    """PSI of every feature of the reference profile (the current one must have the same)."""
    if set(reference.features) != set(current.features):
        raise ValueError(
            "the profiles have different features: "
            f"{sorted(reference.features)} and {sorted(current.features)}"
        )
    return {
        name: psi(feature, current.features[name], floor=floor)
        for name, feature in reference.features.items()
    }


# -- binning -------------------------------------------------------------------------------


def _check_columns(frame: pd.DataFrame, features: Sequence[str]) -> None:
    if len(set(features)) != len(features):
        raise ValueError(f"features are listed more than once: {list(features)}")
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"the data has no column {', '.join(map(repr, missing))}")
    duplicated = [name for name in features if isinstance(frame[name], pd.DataFrame)]
    if duplicated:
        raise ValueError(f"the data has more than one column {', '.join(map(repr, duplicated))}")


def _is_categorical(dtype: Any) -> bool:
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    )


def _numbers(name: str, column: Any) -> NDArray[np.float64]:
    try:
        values: NDArray[np.float64] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature {name!r} of type {column.dtype} is not numeric; "
            "list it as categorical if its values are categories"
        ) from None
    return values


def _decile_edges(values: NDArray[np.float64]) -> tuple[float, ...]:
    """np.quantile(present values, DECILES) (linear), computed from one sort, np.unique'd."""
    ordered = np.sort(values)  # NaN sorts last
    present = ordered[: len(ordered) - int(np.count_nonzero(np.isnan(values)))]
    n = len(present)
    if n == 0:
        return ()
    # numpy's "linear" method: virtual index (n − 1)·q between order statistics lo and hi,
    # interpolated as a + (b − a)·t, or b − (b − a)·(1 − t) when t ≥ 0.5.
    virtual = (n - 1) * np.asarray(DECILES)
    lo = np.floor(virtual)
    t = virtual - lo
    low = lo.astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    a, b = present[low], present[high]
    with np.errstate(invalid="ignore"):
        diff = b - a
        edges = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    undefined = np.isnan(edges)  # an infinite neighbour: take the nearer one
    edges[undefined] = np.where(t >= 0.5, b, a)[undefined]
    return tuple(float(e) for e in np.unique(edges))


def _numeric_counts(values: NDArray[np.float64], edges: tuple[float, ...]) -> tuple[int, ...]:
    """Counts of bins ``np.searchsorted(edges, x, side="right")``, then of NaN."""
    missing = int(np.count_nonzero(np.isnan(values)))
    # Bins 0..j hold the values below edges[j]; NaN is below no edge.
    below = [int(np.count_nonzero(values < edge)) for edge in edges]
    cumulative = [0, *below, len(values) - missing]
    return (*(b - a for a, b in pairwise(cumulative)), missing)


def _categorical_counts(
    codes: NDArray[np.intp], labels: list[str], categories: tuple[str, ...]
) -> tuple[int, ...]:
    position = {category: i for i, category in enumerate(categories)}
    unseen = len(categories)
    bin_of_value = np.array([position.get(label, unseen) for label in labels], dtype=np.intp)
    per_value = np.bincount(codes + 1, minlength=len(labels) + 1)  # [0]: missing
    counts = np.zeros(len(categories) + 2, dtype=np.int64)
    np.add.at(counts, bin_of_value, per_value[1:])
    counts[-1] = per_value[0]
    return tuple(int(c) for c in counts)
