"""``python -m alignops.runtime --spec spec.json``: one service process.

Exit status, for the supervisor:

- 0 — stopped by SIGTERM or SIGINT, after in-flight requests finished and every buffered
  telemetry record was written;
- 1 — uvicorn could not start (for example, the port is taken);
- 2 — the spec is invalid, a model was refused (digest mismatch, untrusted pickle,
  unreadable file) or the handler cannot be loaded (its import fails, it is missing or
  not callable): restarting will not help;
- 3 — an unexpected error (a bug);
- 137 — the memory limit was exceeded (decision 0013): restart it, or give it more memory.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from alignops.errors import AlignOpsError

__all__ = ["EXIT_INTERNAL", "EXIT_REFUSED", "main", "run_http", "serve"]

EXIT_REFUSED = 2
EXIT_INTERNAL = 3


class _Stopped(Exception):
    """SIGTERM, re-raised by uvicorn after its graceful shutdown."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


def serve(spec_path: Path) -> int:
    """Load the spec and the models (or the handler), serve until stopped; the process's
    exit status."""
    from alignops.runtime.spec import load_spec

    try:
        spec = load_spec(spec_path)

        from alignops.runtime.app import create_app

        app = create_app(spec, spec_file=str(spec_path))
    except AlignOpsError as exc:
        print(f"alignops runtime: {exc}", file=sys.stderr, flush=True)
        return EXIT_REFUSED
    service = app.state.service
    print(
        f"alignops runtime: {spec.deployment} ({spec.environment}, {spec.revision}) serving "
        f"{service.serving} on http://{spec.host}:{spec.port}",
        file=sys.stderr,
        flush=True,
    )
    return run_http(app, spec.host, spec.port, math.ceil(spec.timeout_seconds) + 5)


def run_http(app: Any, host: str, port: int, graceful_seconds: int) -> int:
    """Serve an ASGI app with the runtime's uvicorn settings until SIGTERM or SIGINT;
    the exit status (1 if uvicorn could not start, e.g. the port is taken)."""
    import uvicorn

    # uvicorn restores the previous handlers after its graceful shutdown and raises the
    # signal again: make that a clean stop instead of death by signal.
    signal.signal(signal.SIGTERM, _stop)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            workers=1,
            timeout_graceful_shutdown=graceful_seconds,
        )
    except (_Stopped, KeyboardInterrupt):
        pass
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m alignops.runtime",
        description="Serve one deployment's models, or one function, over HTTP, with telemetry.",
    )
    parser.add_argument("--spec", type=Path, required=True, help="the service spec (JSON)")
    args = parser.parse_args(argv)
    try:
        status = serve(args.spec)
    except Exception:  # noqa: BLE001 - the last line of defence
        traceback.print_exc()
        status = EXIT_INTERNAL
    sys.stdout.flush()
    sys.stderr.flush()
    # Telemetry is written by now; a model call stuck past its timeout must not keep the
    # process alive, so skip joining the worker threads.
    os._exit(status)
