"""Monitoring of deployed models: telemetry windows, alert rules, alerts, remediation.

::

    monitor = Monitor(repository, database=db, audit=audit)
    report = monitor.tick()    # windows → rules → alerts → notifications → remediation

Names are imported on first use (PEP 562): the modules of this package import each
other's submodules, never the package, and ``import alignops.monitor.windows`` does not
load the alert machinery. See ``docs/monitoring.md`` and decision 0030.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alignops.monitor.alerts import Alert, AlertStore, WindowValue
    from alignops.monitor.judge import Finding
    from alignops.monitor.latency import LatencyHistogram
    from alignops.monitor.monitor import Monitor, MonitorReport
    from alignops.monitor.reference import Reference, ReferenceProfiles
    from alignops.monitor.rules import Rule, RulePlan, Unwatched, plan_rules, rules_for
    from alignops.monitor.silences import Silence, SilenceStore
    from alignops.monitor.windows import UpdateReport, load_windows, update_windows
    from alignops.monitor.windows_data import Window, WindowKey

_HOME = {
    "Alert": "alignops.monitor.alerts",
    "AlertStore": "alignops.monitor.alerts",
    "WindowValue": "alignops.monitor.alerts",
    "Finding": "alignops.monitor.judge",
    "Monitor": "alignops.monitor.monitor",
    "MonitorReport": "alignops.monitor.monitor",
    "Rule": "alignops.monitor.rules",
    "RulePlan": "alignops.monitor.rules",
    "Unwatched": "alignops.monitor.rules",
    "plan_rules": "alignops.monitor.rules",
    "rules_for": "alignops.monitor.rules",
    "Silence": "alignops.monitor.silences",
    "SilenceStore": "alignops.monitor.silences",
    "LatencyHistogram": "alignops.monitor.latency",
    "Reference": "alignops.monitor.reference",
    "ReferenceProfiles": "alignops.monitor.reference",
    "UpdateReport": "alignops.monitor.windows",
    "load_windows": "alignops.monitor.windows",
    "update_windows": "alignops.monitor.windows",
    "Window": "alignops.monitor.windows_data",
    "WindowKey": "alignops.monitor.windows_data",
}

__all__ = [
    "Alert",
    "AlertStore",
    "Finding",
    "LatencyHistogram",
    "Monitor",
    "MonitorReport",
    "Reference",
    "ReferenceProfiles",
    "Rule",
    "RulePlan",
    "Silence",
    "SilenceStore",
    "Unwatched",
    "UpdateReport",
    "Window",
    "WindowKey",
    "WindowValue",
    "load_windows",
    "plan_rules",
    "rules_for",
    "update_windows",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'alignops.monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
