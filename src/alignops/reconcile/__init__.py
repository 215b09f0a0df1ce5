"""Delivery, the pure part: what should run (desired state from a Snapshot) and what to
do about what runs (a plan). Providers and the reconcile loop build on these."""

from alignops.reconcile.desired import DesiredModel, DesiredService, desired_state
from alignops.reconcile.plan import Action, LiveService, Plan, plan

__all__ = [
    "Action",
    "DesiredModel",
    "DesiredService",
    "LiveService",
    "Plan",
    "desired_state",
    "plan",
]
