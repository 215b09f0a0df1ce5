"""A serverless function's service: ``POST /invoke`` calls a Python handler.

The handler is ``module:function`` from the repository's code (``function.codePath``).
At start the service puts the code folder first on ``sys.path``, sets ``function.env``
in the environment and imports the module; a handler that cannot be loaded (the import
raises, the name is missing or not callable, the module is not the repository's) stops
the process with status 2 and a message naming the handler and the file and line.

Each ``POST /invoke`` parses the JSON body as the *event* and calls
``handler(event, context)`` (:class:`Context`, decision 0024). An ``async def`` handler
is awaited on the event loop, so it must not block; a plain one runs in the service's
thread pool. The result must be JSON: it is the 200 body. A handler that raises answers
500 ``{"error": "handler-error", "type", "message", "requestId"}`` and its traceback goes
to stderr, not to the client. Admission, limits and telemetry are
:class:`~alignops.runtime.service.Service`'s; at the timeout an ``async`` handler is
cancelled, a plain one runs on (its slot stays taken) and the client gets 504.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fastapi import Request, Response

from alignops.errors import InputError
from alignops.runtime.service import Call, Service, error_body
from alignops.runtime.spec import ServedFunction, ServiceSpec

__all__ = ["Context", "FunctionService", "load_handler"]

Outcome = tuple[int, bytes, str | None, int]
"""What answers an invocation: status, response body, error code, rows (1 if answered)."""


@dataclass(frozen=True)
class Context:
    """The second argument of a handler: which invocation this is, and how long is left."""

    request_id: str
    """The ``X-Request-Id`` of the request, or the UUID the service made."""
    deployment: str
    """The function's name."""
    environment: str
    revision: str
    """The config-repository commit being served."""
    deadline: float
    """``time.monotonic()`` at which the client gets 504."""

    def remaining_seconds(self) -> float:
        """Seconds left before the timeout; 0 once it passed."""
        return max(0.0, self.deadline - time.monotonic())


def load_handler(function: ServedFunction, *, where: str) -> Callable[..., Any]:
    """Import the handler from the repository's code; an :class:`InputError` naming the
    handler and the file and line if it cannot be loaded."""
    module_name, _, attribute = function.handler.partition(":")
    where = f"{where}: handler {function.handler}"
    code = function.code_path.resolve()
    if not code.is_dir():
        raise InputError(f"{where}: codePath {function.code_path} is not a folder")
    os.environ.update(function.env)
    sys.path.insert(0, str(code))
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise InputError(f"{where}: {exc.filename}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the module's code raised
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
        if missing and (missing == module_name or module_name.startswith(f"{missing}.")):
            raise InputError(f"{where}: no module {missing} in {code}") from None
        raise InputError(
            f"{where}: importing {module_name} failed at {_origin(exc, code)}"
        ) from None
    location = getattr(module, "__file__", None)
    if location is None or code not in Path(location).resolve().parents:
        raise InputError(
            f"{where}: {module_name} is {location or 'built in'}, not a module of the "
            f"repository's code in {code}; rename the repository's module"
        )
    file = Path(location)
    handler = getattr(module, attribute, None)
    if handler is None:
        raise InputError(f"{where}: {file} defines no {attribute}")
    if not callable(handler):
        raise InputError(
            f"{where}: {file}: {attribute} is a {type(handler).__name__}, not a function"
        )
    return handler  # type: ignore[no-any-return]


def _origin(exc: BaseException, code: Path) -> str:
    """``file:line: Type: message`` of the innermost frame in the repository's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if code in Path(f.filename).resolve().parents]
    error = f"{type(exc).__name__}: {exc}"
    if not (ours or frames):
        return error
    frame = (ours or frames)[-1]
    return f"{frame.filename}:{frame.lineno}: {error}"


class FunctionService(Service):
    """One handler served over ``POST /invoke``."""

    kind: ClassVar[str] = "ServerlessFunction"
    endpoint: ClassVar[str] = "/invoke"

    def __init__(self, spec: ServiceSpec, *, spec_file: str = "spec") -> None:
        assert spec.function is not None  # create_app picks this class for function specs
        super().__init__(spec)
        self.function = spec.function
        self.handler = load_handler(spec.function, where=f"{spec_file}: function")
        self.is_async = inspect.iscoroutinefunction(self.handler)
        self._served = (self.function.handler, None)

    @property
    def serving(self) -> str:
        kind = "async handler" if self.is_async else "handler"
        return f"the {kind} {self.function.handler}"

    def served(self) -> dict[str, Any]:
        return {"handler": self.function.handler}

    def described(self) -> dict[str, Any]:
        return {"handler": self.function.handler, "async": self.is_async}

    async def handle(self, request: Request) -> Response:
        call = self.admit(request)
        if not isinstance(call, Call):
            return call
        try:
            body = await request.body()
        except Exception:  # noqa: BLE001 - the client went away mid-body
            self.release()
            return self.answer(call, self._served, None, 499, b"", "client-disconnected", 0)
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.release()
            out = error_body("bad-request", f"the body is not JSON: {exc}", call.request_id)
            return self.answer(call, self._served, body, 400, out, "bad-request", 0)
        timeout = self.spec.timeout_seconds
        context = Context(
            request_id=call.request_id,
            deployment=self.spec.deployment,
            environment=self.spec.environment,
            revision=self.spec.revision,
            deadline=time.monotonic() + timeout,
        )
        loop = self.loop or asyncio.get_running_loop()
        work: asyncio.Future[Outcome]
        if self.is_async:
            work = loop.create_task(self._run_async(event, context))
        else:
            work = loop.run_in_executor(self.executor, self._run, event, context)
        work.add_done_callback(self._finished)
        try:
            done, _ = await asyncio.wait({work}, timeout=timeout)
        except asyncio.CancelledError:  # the server gave up on it (shutdown grace expired)
            self.answer(call, self._served, body, 499, b"", "cancelled", 0)
            raise
        if not done:
            if self.is_async:
                work.cancel()  # a thread cannot be interrupted: a plain handler runs on
            out = error_body("timeout", f"no answer within {timeout:g} s", call.request_id)
            return self.answer(call, self._served, body, 504, out, "timeout", 0)
        status, out, error, rows = work.result()
        return self.answer(call, self._served, body, status, out, error, rows)

    def _finished(self, work: asyncio.Future[Outcome]) -> None:
        """Event loop: the handler really returned (or was cancelled); free its slot."""
        self.release()
        if not work.cancelled():
            work.exception()  # retrieved: a late failure is not "never retrieved"

    def _run(self, event: Any, context: Context) -> Outcome:
        """Worker thread: call a plain handler."""
        try:
            result = self.handler(event, context)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes an answer
            return self._failed(exc, context)
        return self._result(result, context)

    async def _run_async(self, event: Any, context: Context) -> Outcome:
        """Event loop: await an ``async def`` handler."""
        try:
            result = await self.handler(event, context)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure becomes an answer
            return self._failed(exc, context)
        return self._result(result, context)

    def _result(self, result: Any, context: Context) -> Outcome:
        try:
            out = json.dumps(result, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            message = f"the handler returned a {type(result).__name__} that is not JSON: {exc}"
            _say(f"{self._prefix(context)}: {message}")
            body = error_body("handler-error", message, context.request_id, type=type(exc).__name__)
            return 500, body, "handler-error", 0
        return 200, out, None, 1

    def _failed(self, exc: BaseException, context: Context) -> Outcome:
        # From the handler's frame on: the runtime's own frame says nothing to its author.
        frames = exc.__traceback__.tb_next if exc.__traceback__ else None
        trace = "".join(traceback.format_exception(type(exc), exc, frames))
        _say(f"{self._prefix(context)}: the handler raised:\n{trace.rstrip()}")
        body = error_body("handler-error", str(exc), context.request_id, type=type(exc).__name__)
        return 500, body, "handler-error", 0

    def _prefix(self, context: Context) -> str:
        return (
            f"alignops runtime: {self.spec.deployment}: request {context.request_id}: "
            f"{self.function.handler}"
        )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
