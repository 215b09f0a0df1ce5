"""Robust seasonal anomaly scores for series of service metrics and daily costs.

The lowest layer of alignops beside ``manifests`` and ``store``: numpy only, and nothing
from alignops but :mod:`alignops.errors`. Monitoring scores service metrics with it
(``anomaly:<metric>`` rules) and the cost ledger scores daily cost per dimension value,
explains an anomaly with :func:`root_cause` and sizes it with :func:`impact`.
See ``docs/anomalies.md``.
"""

from alignops.anomaly.impact import Amount, Impact, impact
from alignops.anomaly.rootcause import Contribution, RootCause, root_cause
from alignops.anomaly.scores import Direction, Scores, score_series

__all__ = [
    "Amount",
    "Contribution",
    "Direction",
    "Impact",
    "RootCause",
    "Scores",
    "impact",
    "root_cause",
    "score_series",
]
