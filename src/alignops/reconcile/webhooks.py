"""Push webhooks from GitHub and GitLab: verify them, read them, and a small receiver.

- **GitHub** signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
  body, keyed with the secret>``; the event is ``X-GitHub-Event`` (``push``, ``ping``).
- **GitLab** sends the secret itself: ``X-Gitlab-Token: <secret>``; the event is
  ``X-Gitlab-Event: Push Hook``.

Both are compared in constant time (:func:`hmac.compare_digest`). The payload fields
used are ``ref`` (``refs/heads/main``) and the commit pushed (``after``; GitLab also
``checkout_sha``). :class:`WebhookReceiver` serves ``POST /hooks/github``, ``POST
/hooks/gitlab`` and ``GET /healthz`` from a thread (decision 0021), and ``GET /metrics``
when given a renderer (:mod:`alignops.reconcile.metrics`, decision 0033).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = [
    "MetricsRenderer",
    "Push",
    "WebhookReceiver",
    "github_signature",
    "parse_push",
    "verify_github",
    "verify_gitlab",
]

Source = Literal["github", "gitlab"]
MAX_BODY = 25 * 1024 * 1024
"""GitHub caps payloads at 25 MB; anything larger is refused unread."""


@dataclass(frozen=True)
class Push:
    """A push a webhook reported: which ref, and the commit it now points at."""

    source: Source
    ref: str
    revision: str

    @property
    def branch(self) -> str | None:
        """The branch pushed to, or None for a tag or another kind of ref."""
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None


def github_signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_github(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is GitHub's signature of ``body`` with ``secret``."""
    if not secret or not header:
        return False
    return hmac.compare_digest(github_signature(secret, body).encode(), header.strip().encode())


def verify_gitlab(secret: bytes, header: str | None) -> bool:
    """Whether ``header`` (``X-Gitlab-Token``) is the secret."""
    if not secret or header is None:
        return False
    return hmac.compare_digest(secret, header.encode())


def parse_push(source: Source, body: bytes) -> Push:
    """The push a payload describes; :class:`ValueError` naming what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")
    ref = document.get("ref")
    if not isinstance(ref, str) or not ref:
        raise ValueError("payload field 'ref' is missing or not a string")
    fields = ("checkout_sha", "after") if source == "gitlab" else ("after",)
    revision = next((document[f] for f in fields if isinstance(document.get(f), str)), "")
    return Push(source, ref, revision)


_ENDPOINTS: dict[str, Source] = {"/hooks/github": "github", "/hooks/gitlab": "gitlab"}
_HEADERS = {"x-hub-signature-256": "X-Hub-Signature-256", "x-gitlab-token": "X-Gitlab-Token"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, Any]
    raw: bytes | None = None
    """Sent as is instead of ``body`` as JSON (``/metrics``)."""
    content_type: str = "application/json"


OnPush = Callable[[Push], list[str]]
"""Wakes the loop for a push; the environments that watch its branch (empty: ignored)."""
OnRejected = Callable[[Source, str, str], None]
"""(source, reason, client address) of a request whose secret did not match."""
MetricsRenderer = Callable[[str], tuple[bytes, str]]
"""The request's ``Accept`` header → (the metrics exposition, its content type)."""


class WebhookReceiver:
    """``POST /hooks/github``, ``POST /hooks/gitlab``, ``GET /healthz`` and, with
    ``metrics``, ``GET /metrics`` on one address, served by a thread per request."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secret: bytes | None,
        on_push: OnPush,
        on_rejected: OnRejected,
        health: Callable[[], Mapping[str, Any]],
        metrics: MetricsRenderer | None = None,
    ) -> None:
        self.secret = secret or None
        self.on_push = on_push
        self.on_rejected = on_rejected
        self.health = health
        self.metrics = metrics
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self.server = server_class((host, port), _Handler)
        self.server.receiver = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="alignops-webhooks", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, client: str
    ) -> Reply:
        """The answer to one request (the handler only moves bytes); ``headers`` have
        lower-case names."""
        if path == "/healthz":
            if method != "GET":
                return Reply(405, {"error": "use GET"})
            return Reply(200, self.health())
        if path == "/metrics" and self.metrics is not None:
            if method != "GET":
                return Reply(405, {"error": "use GET"})
            data, content_type = self.metrics(headers.get("accept", ""))
            return Reply(200, {}, raw=data, content_type=content_type)
        source = _ENDPOINTS.get(path)
        if source is None:
            return Reply(404, {"error": f"no such endpoint {path}"})
        if method != "POST":
            return Reply(405, {"error": "use POST"})
        if self.secret is None:
            return Reply(503, {"error": "no secret configured: webhooks are off, polling runs"})
        if source == "github":
            header, event = "x-hub-signature-256", headers.get("x-github-event", "")
            ok = verify_github(self.secret, body, headers.get(header))
        else:
            header, event = "x-gitlab-token", headers.get("x-gitlab-event", "")
            ok = verify_gitlab(self.secret, headers.get(header))
        if not ok:
            reason = "does not match" if header in headers else "is missing"
            error = f"{_HEADERS[header]} {reason}"
            self.on_rejected(source, error, client)
            return Reply(401, {"error": error})
        if source == "github" and event == "ping":
            return Reply(200, {"status": "pong"})
        if event not in ("push", "Push Hook"):
            return Reply(202, {"status": "ignored", "message": f"event {event!r} is not a push"})
        try:
            push = parse_push(source, body)
        except ValueError as exc:
            return Reply(400, {"error": str(exc)})
        environments = self.on_push(push)
        if not environments:
            return Reply(
                202, {"status": "ignored", "message": f"no environment watches {push.ref}"}
            )
        return Reply(202, {"status": "accepted", "environments": environments})


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = "alignops"
    timeout = 10  # a client that stops sending does not hold its thread forever

    def do_GET(self) -> None:
        self._answer("GET", b"")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(Reply(411, {"error": "Content-Length is required"}))
            return
        if int(length) > MAX_BODY:
            self._send(Reply(413, {"error": f"the body is larger than {MAX_BODY} bytes"}))
            return
        self._answer("POST", self.rfile.read(int(length)))

    def _answer(self, method: str, body: bytes) -> None:
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        try:
            reply = receiver.handle(method, path, headers, body, str(self.client_address[0]))
        except Exception as exc:  # noqa: BLE001 - the server goes on
            sys.stderr.write(f"webhook {path}: {type(exc).__name__}: {exc}\n")
            reply = Reply(500, {"error": "internal error; the controller's log says which"})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        data = reply.raw if reply.raw is not None else json.dumps(reply.body, default=str).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the controller logs what matters: ticks and rejected requests
