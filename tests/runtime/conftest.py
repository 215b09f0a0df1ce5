"""Fixtures: real model files, real handler code, real service processes on free loopback
ports."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["f0", "f1", "f2", "f3", "f4"]
FUNCTION_CODE = Path(__file__).resolve().parent / "function_code"
"""A repository's code with handlers (``checkout.handlers:handle``, ``…:handle_async``)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows(n: int, *, seed: int) -> list[dict[str, float]]:
    data = np.random.default_rng(seed).normal(size=(n, len(FEATURES)))
    return [dict(zip(FEATURES, map(float, r), strict=True)) for r in data]


def matrix(batch: list[dict[str, float]]) -> np.ndarray:
    return np.array([[r[f] for f in FEATURES] for r in batch])


def train(seed: int) -> LogisticRegression:
    """A small classifier fitted on a NumPy array (no feature names)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, len(FEATURES)))
    y = X[:, 0] + (seed % 3) * X[:, 1] - X[:, 2] + rng.normal(scale=0.5, size=400) > 0
    return LogisticRegression().fit(X, y.astype(int))


def write_model(path: Path, data: bytes, *, fmt: str = "skops", **extra: Any) -> dict[str, Any]:
    """A served-model entry of the spec for ``data`` written to ``path``."""
    path.write_bytes(data)
    entry = {
        "name": "scorer",
        "version": path.stem,
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": fmt,
        "features": FEATURES,
        "percent": 100,
    }
    return {**entry, **extra}


def skops_model(path: Path, model: Any, **extra: Any) -> dict[str, Any]:
    return write_model(path, sio.dumps(model), **extra)


def pickled_model(path: Path, model: Any, **extra: Any) -> dict[str, Any]:
    return write_model(path, pickle.dumps(model), fmt="pickle", **extra)


@dataclass
class Service:
    """A ``python -m alignops.runtime`` process and what it was started with."""

    spec: dict[str, Any]
    spec_path: Path
    process: subprocess.Popen[bytes]
    stderr_path: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.spec['port']}"

    @property
    def telemetry_dir(self) -> Path:
        return Path(self.spec["telemetry"]["directory"]) / self.spec["deployment"]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"service exited with {self.process.returncode}:\n{self.stderr()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"service not ready after {timeout} s:\n{self.stderr()}")

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/health", timeout=5.0)
        return dict(response.json())

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a supervisor stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def function(
    handler: str, *, code: Path = FUNCTION_CODE, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``function`` entry of a spec."""
    return {"handler": handler, "codePath": str(code), "env": env or {}}


def service_spec(
    tmp: Path, models: list[dict[str, Any]] | None, **overrides: Any
) -> dict[str, Any]:
    """A spec serving ``models``, or (``models=None``) the ``function`` in ``overrides``."""
    spec: dict[str, Any] = {
        "deployment": "fraud-scorer",
        "environment": "staging",
        "revision": "3f2a9c1e" * 5,
        "port": free_port(),
        "memoryMb": 2048,
        "concurrency": 16,
        "timeoutSeconds": 10,
        "telemetry": {"directory": str(tmp / "telemetry"), "flushSeconds": 0.5},
        "models": models,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    if models is None:
        del spec["models"]
    return spec


def launch(tmp: Path, spec: dict[str, Any], *, wait: bool = True) -> Service:
    """Start the service process the way the supervisor will."""
    spec_path = tmp / f"spec-{spec['port']}.json"
    spec_path.write_text(json.dumps(spec))
    stderr_path = tmp / f"stderr-{spec['port']}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # tests.runtime.models for pickles
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "alignops.runtime", "--spec", str(spec_path)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=tmp,
        )
    service = Service(spec, spec_path, process, stderr_path)
    if wait:
        service.wait_ready()
    return service


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """``start(models, **spec overrides) -> Service``; every service is stopped afterwards."""
    started: list[Service] = []

    def _start(
        models: list[dict[str, Any]] | None, *, wait: bool = True, **overrides: Any
    ) -> Service:
        service = launch(tmp_path, service_spec(tmp_path, models, **overrides), wait=wait)
        started.append(service)
        return service

    yield _start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


@pytest.fixture
def start_function(start: Any) -> Any:
    """``start_function(handler, *, code=, env=, wait=, **spec overrides) -> Service``: a
    service of the deployment ``checkout-events`` running ``handler``."""

    def _start(
        handler: str,
        *,
        code: Path = FUNCTION_CODE,
        env: dict[str, str] | None = None,
        wait: bool = True,
        **overrides: Any,
    ) -> Service:
        overrides.setdefault("deployment", "checkout-events")
        entry = function(handler, code=code, env=env)
        return start(None, wait=wait, function=entry, **overrides)

    return _start
