"""An SMTP server on loopback that records every message it accepts.

:class:`SmtpCapture` runs aiosmtpd's SMTP protocol on ``127.0.0.1`` and an ephemeral
port, in an event loop of its own thread. It records the envelope (``MAIL FROM``,
``RCPT TO``), the message as received, who logged in and whether STARTTLS was used; it
can be told to refuse the next *N* messages with a given reply (``550`` permanent,
``451`` temporary: :meth:`SmtpCapture.refuse_next`). With ``credentials`` it requires
AUTH (PLAIN or LOGIN) with exactly that user and password; with ``tls_context`` it offers
STARTTLS (``require_starttls`` makes it mandatory)::

    with SmtpCapture(credentials=("alerts", password)) as smtp:
        ...  # notifications.smtp: {host: 127.0.0.1, port: smtp.port, username: alerts}
        (message,) = smtp.wait_for(1)
        message.message["Subject"]
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import warnings
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["CapturedMessage", "SmtpCapture"]


@dataclass(frozen=True)
class CapturedMessage:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None
    """The user that authenticated on the connection, if any."""
    tls: bool
    """Whether the connection had switched to TLS (STARTTLS) before the message."""

    @property
    def message(self) -> EmailMessage:
        """The message parsed (``email.policy.default``: headers decoded)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def text(self) -> str:
        """The plain-text body, with ``\n`` line ends (SMTP carries ``\r\n``)."""
        part = self.message.get_body(preferencelist=("plain",))
        text = "" if part is None else str(cast(EmailMessage, part).get_content())
        return text.replace("\r\n", "\n")


class SmtpCapture:
    """A capturing SMTP server; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        host: str = "127.0.0.1",
        hostname: str = "capture.localhost",
    ) -> None:
        self.credentials = credentials
        self.tls_context = tls_context
        self.require_starttls = require_starttls
        self.host = host
        self.hostname = hostname
        self.port = 0
        self._messages: list[CapturedMessage] = []
        self._refused: list[CapturedMessage] = []
        self._refusals: deque[str] = deque()
        self._failed_logins: list[str] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self.port else "stopped"
        return f"SmtpCapture({state})"

    # -- life -----------------------------------------------------------------------------

    def start(self) -> SmtpCapture:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(self._protocol, host=self.host, port=0)
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="smtp-capture", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        assert self._server is not None
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def close(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> SmtpCapture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- behaviour ------------------------------------------------------------------------

    def refuse_next(
        self, count: int = 1, *, code: int = 550, text: str = "5.7.1 refused by the capture server"
    ) -> None:
        """Answer ``code text`` to the DATA of the next ``count`` messages."""
        with self._changed:
            self._refusals.extend(f"{code} {text}" for _ in range(count))

    # -- what was received ----------------------------------------------------------------

    @property
    def messages(self) -> list[CapturedMessage]:
        """Messages accepted."""
        with self._changed:
            return list(self._messages)

    @property
    def refused(self) -> list[CapturedMessage]:
        """Messages refused on purpose (:meth:`refuse_next`)."""
        with self._changed:
            return list(self._refused)

    @property
    def failed_logins(self) -> list[str]:
        """User names of refused AUTH attempts (never the passwords)."""
        with self._changed:
            return list(self._failed_logins)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[CapturedMessage]:
        """The accepted messages once at least ``count`` arrived; :class:`TimeoutError`
        if they do not within ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} message(s) arrived, expected {count}")
            return list(self._messages)

    # -- serving (the loop's thread) ------------------------------------------------------

    def _protocol(self) -> SMTP:
        with warnings.catch_warnings():  # AUTH without TLS is what a test server may want
            warnings.simplefilter("ignore")
            return SMTP(
                _Handler(self),
                hostname=self.hostname,
                tls_context=self.tls_context,
                require_starttls=self.require_starttls,
                auth_required=self.credentials is not None,
                auth_require_tls=self.tls_context is not None,
                authenticator=self._authenticate if self.credentials is not None else None,
                loop=self._loop,
            )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode(errors="replace")
        if (user, data.password.decode(errors="replace")) == self.credentials:
            return AuthResult(success=True, auth_data=user)
        with self._changed:
            self._failed_logins.append(user)
        return AuthResult(success=False, handled=False)

    def _receive(self, captured: CapturedMessage) -> str:
        with self._changed:
            if self._refusals:
                self._refused.append(captured)
                return self._refusals.popleft()
            self._messages.append(captured)
            self._changed.notify_all()
        return "250 OK"


class _Handler:
    """aiosmtpd's handler: hands each message to the capture."""

    def __init__(self, capture: SmtpCapture) -> None:
        self.capture = capture

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        return self.capture._receive(
            CapturedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=content.encode() if isinstance(content, str) else content,
                login=str(session.auth_data) if session.authenticated else None,
                tls=session.ssl is not None,
            )
        )
