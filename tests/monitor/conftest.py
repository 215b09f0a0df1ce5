"""Fixtures shared by the monitor's tests: ``delivery`` is ``tests/reconcile``'s (model
``scorer-v1`` served as ``scorer-api`` in staging; every process a test starts is stopped
afterwards)."""

from tests.reconcile.conftest import delivery

__all__ = ["delivery"]
