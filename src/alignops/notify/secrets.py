"""Secrets of routes, read at send time and never kept.

A route's ``secretRef`` names an environment variable or a file (relative paths are
relative to the config repository, absolute ones are used as written). The value is read
just before a send, wrapped in :class:`Secret` (whose ``repr`` and ``str`` never show
it), and dropped after. :func:`redact` removes secrets from any text that is about to be
stored, logged or raised: library errors often quote the URL they failed on, and a
Slack incoming-webhook URL *is* the secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

from alignops.errors import AlignOpsError
from alignops.manifests.kinds.alertroute import SecretRef

__all__ = ["REDACTED", "Secret", "SecretUnavailable", "describe", "read_secret", "redact"]

REDACTED = "***"
MAX_SECRET_BYTES = 64 * 1024
"""A secret file larger than this is refused (it is not a URL, key or password)."""


class Secret:
    """A secret value. Its ``repr`` and ``str`` name where it came from, not what it is;
    :meth:`reveal` is the only way to the value."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


class SecretUnavailable(AlignOpsError):
    """A route's secret cannot be read: the variable is unset or the file is absent."""


def describe(ref: SecretRef) -> str:
    """Where a secret is kept, for messages: ``environment variable SLACK_URL``."""
    if ref.env is not None:
        return f"environment variable {ref.env}"
    return f"secret file {ref.file}"


def read_secret(ref: SecretRef, *, root: Path, environ: Mapping[str, str] | None = None) -> Secret:
    """The secret ``ref`` names; :class:`SecretUnavailable` saying what is missing."""
    source = describe(ref)
    if ref.env is not None:
        value = (os.environ if environ is None else environ).get(ref.env)
        if value is None:
            raise SecretUnavailable(f"{source} is not set")
        if not value.strip():
            raise SecretUnavailable(f"{source} is empty")
        return Secret(value.strip(), source)
    assert ref.file is not None  # SecretRef: exactly one of env and file
    path = Path(ref.file).expanduser()
    if not path.is_absolute():
        path = root / path
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except FileNotFoundError:
        raise SecretUnavailable(f"{source} does not exist") from None
    except OSError as exc:
        raise SecretUnavailable(f"{source} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretUnavailable(f"{source} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        value = data.decode().strip()
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{source} is not UTF-8 text") from None
    if not value:
        raise SecretUnavailable(f"{source} is empty")
    return Secret(value, source)


def _forms(value: str) -> set[str]:
    """The ways a secret can show up in a message: as is, URL-quoted, and for a URL its
    path and query (errors that print only the request path)."""
    forms = {value, quote(value), quote(value, safe=""), quote_plus(value)}
    parts = urlsplit(value)
    if parts.scheme and parts.netloc:
        forms.add(value.split("://", 1)[1])
        if len(parts.path) > 1:
            forms.add(parts.path + (f"?{parts.query}" if parts.query else ""))
            forms.add(parts.path)
        if parts.query:
            forms.add(parts.query)
    return {f for f in forms if f}


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """``text`` with every form of every secret replaced by ``***``."""
    forms: set[str] = set()
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            forms |= _forms(value)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
