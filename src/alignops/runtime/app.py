"""``create_app(spec)``: the FastAPI app of one service process.

A spec with ``models`` gets a :class:`~alignops.runtime.predict.ModelService`
(``POST /predict``), one with ``function`` a
:class:`~alignops.runtime.function.FunctionService` (``POST /invoke``); both answer
``GET /health``, ``GET /metadata`` and ``GET /metrics`` (Prometheus), and 404 on the
other kind's endpoint.
"""

from __future__ import annotations

from fastapi import FastAPI

from alignops.runtime.function import FunctionService
from alignops.runtime.predict import ModelService
from alignops.runtime.service import ENDPOINTS, Service
from alignops.runtime.spec import ServiceSpec

__all__ = ["create_app"]


def create_app(spec: ServiceSpec, *, spec_file: str = "spec") -> FastAPI:
    """The app of one deployment. Loads (and digest-checks) every model, or imports the
    handler, first: an :class:`~alignops.errors.AlignOpsError` if that is refused."""
    service: Service
    if spec.function is not None:
        service = FunctionService(spec, spec_file=spec_file)
    else:
        service = ModelService(spec, spec_file=spec_file)
    app = FastAPI(
        title=f"alignops runtime: {spec.deployment}",
        lifespan=service.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    for endpoint in ENDPOINTS:
        route = service.handle if endpoint == service.endpoint else service.elsewhere
        app.add_api_route(endpoint, route, methods=["POST"])
    app.add_api_route("/health", service.health, methods=["GET"])
    app.add_api_route("/metadata", service.metadata, methods=["GET"])
    app.add_api_route("/metrics", service.metrics, methods=["GET"])
    return app
