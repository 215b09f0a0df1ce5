"""An HTTP server on loopback that records every request it is sent.

:class:`HttpCapture` is a real ``http.server`` on ``127.0.0.1`` and an ephemeral port,
served from a thread (HTTPS when given a server context). It records method, path,
headers and body of each request and answers ``200 ok`` — or, when told, an error
status for the next *N* requests (:meth:`HttpCapture.fail_next`) or nothing for a while,
longer than a client's timeout (:meth:`HttpCapture.stall_next`). Tests use it as the
Slack or webhook receiver; the demo uses it to show a payload as the receiving server
got it::

    with HttpCapture() as slack:
        os.environ["SLACK_URL"] = slack.url_for("/services/T000/B000/XXXX")
        ...
        (request,) = slack.wait_for(1)
        print(request.json())
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["CapturedRequest", "HttpCapture"]

_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class CapturedRequest:
    """One request as the server received it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    """The status answered (for a stalled request: the one sent after the stall, when the
    client has usually given up)."""
    stalled: bool = False

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class _Plan:
    status: int | None = None
    body: bytes = b""
    stall: float = 0.0


@dataclass
class _State:
    requests: list[CapturedRequest] = field(default_factory=list)
    plans: deque[_Plan] = field(default_factory=deque)


class HttpCapture:
    """A capturing HTTP server; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"ok",
        content_type: str = "text/plain; charset=utf-8",
        host: str = "127.0.0.1",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tls_context``: a server context (certificate and key) to serve HTTPS."""
        self.status = status
        self.body = body
        self.content_type = content_type
        self.host = host
        self.tls_context = tls_context
        self.port = 0
        self._state = _State()
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"HttpCapture({self.url if self.port else 'stopped'})"

    # -- life -----------------------------------------------------------------------------

    def start(self) -> HttpCapture:
        server = ThreadingHTTPServer((self.host, 0), _handler_for(self))
        server.daemon_threads = True
        if self.tls_context is not None:
            server.socket = self.tls_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"http-capture-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; stalled requests are let go first."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> HttpCapture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- where ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + "/" + path.lstrip("/")

    @property
    def address(self) -> str:
        """``host:port``, as in a ``webhook://host:port/path`` target."""
        return f"{self.host}:{self.port}"

    # -- behaviour ------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 500, body: bytes = b"failing") -> None:
        """Answer ``status`` to the next ``count`` requests."""
        with self._changed:
            self._state.plans.extend(_Plan(status=status, body=body) for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float = 30.0) -> None:
        """Hold the answer to the next ``count`` requests for ``seconds`` (or until the
        server closes): longer than the client's timeout, so it gives up."""
        with self._changed:
            self._state.plans.extend(_Plan(stall=seconds) for _ in range(count))

    # -- what was received ----------------------------------------------------------------

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._changed:
            return list(self._state.requests)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[CapturedRequest]:
        """The requests once at least ``count`` arrived; :class:`TimeoutError` if they do
        not within ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._state.requests) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._state.requests)} request(s) arrived, expected {count}"
                )
            return list(self._state.requests)

    def clear(self) -> None:
        with self._changed:
            self._state.requests.clear()

    # -- serving (handler threads) --------------------------------------------------------

    def _plan(self) -> _Plan:
        with self._changed:
            if self._state.plans:
                return self._state.plans.popleft()
        return _Plan()

    def _record(self, request: CapturedRequest) -> None:
        with self._changed:
            self._state.requests.append(request)
            self._changed.notify_all()


def _handler_for(capture: HttpCapture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "alignops-http-capture"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: what matters is recorded, not printed."""

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            body = self._read_body()
            plan = capture._plan()
            status = plan.status or capture.status
            answer = plan.body if plan.status is not None else capture.body
            capture._record(
                CapturedRequest(
                    method=self.command,
                    path=self.path,
                    headers=dict(self.headers.items()),
                    body=body,
                    status=status,
                    stalled=plan.stall > 0,
                )
            )
            if plan.stall > 0:
                capture._release.wait(plan.stall)
            try:
                self.send_response(status)
                self.send_header("Content-Type", capture.content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the client gave up (a stall): nobody to answer
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler
