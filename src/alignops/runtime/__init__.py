"""The local serverless runtime: one HTTP inference process per deployment.

The supervisor (the local provider, ``alignops.reconcile.providers.local``) writes a
:class:`ServiceSpec` as JSON and starts
``python -m alignops.runtime --spec spec.json``. The process verifies and loads the model
files and serves ``/predict`` — or imports a ``module:function`` handler from the
repository's code and serves ``/invoke`` — plus ``/health`` and ``/metadata`` with
uvicorn, enforces the concurrency, timeout and memory limits, and writes every request
to Parquet telemetry off the request path. See docs/runtime.md.
"""

from alignops.runtime.spec import (
    ServedFunction,
    ServedModel,
    ServiceSpec,
    TelemetrySettings,
    load_spec,
)

__all__ = [
    "ServedFunction",
    "ServedModel",
    "ServiceSpec",
    "TelemetrySettings",
    "create_app",
    "load_spec",
]


def __getattr__(name: str) -> object:
    # create_app imports FastAPI (the runtime extra); importing the spec must not need it.
    if name == "create_app":
        from alignops.runtime.app import create_app

        return create_app
    raise AttributeError(name)
