"""What is sent: one :class:`Notification`, the same for every channel.

A notification says what happened in one line (``title``), how bad it is
(``severity``), the facts as key/value ``fields`` (deployment, metric, value, threshold,
window…), ``labels`` that routes and silences match on, a markdown ``text`` for people,
``links`` and structured ``details`` for machines. ``dedup_key`` names the event: a
route gets at most one notification per key (decision 0028).

It is stored in the outbox as JSON (:meth:`Notification.to_payload`) and rebuilt at send
time (:meth:`Notification.from_payload`); it never holds a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Kind",
    "Notification",
    "Severity",
    "absolute_links",
    "format_time",
    "now_utc",
]

Kind = Literal["firing", "resolved", "budget", "test"]
Severity = Literal["info", "warning", "critical"]
KINDS: tuple[str, ...] = get_args(Kind)
SEVERITIES: tuple[str, ...] = get_args(Severity)


def now_utc() -> datetime:
    """The current time in UTC (the default clock of the notifier)."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """A time as the outbox stores it: UTC ISO 8601 with microseconds, so that the text
    order is the time order (``next_attempt_at <= now`` is a string comparison)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Notification:
    """One event to tell people about, independent of the channel it goes to."""

    kind: Kind
    title: str
    severity: Severity
    fields: dict[str, str]
    labels: dict[str, str]
    dedup_key: str
    links: dict[str, str] = field(default_factory=dict)
    text: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}"
            )
        if not self.title.strip() or "\n" in self.title:
            raise ValueError("title must be one non-empty line")
        if not self.dedup_key or len(self.dedup_key) > 600:
            raise ValueError("dedup_key must be 1 to 600 characters")

    @property
    def tag(self) -> str:
        """The severity in capitals: the ``[WARNING]`` of e-mail subjects and Slack
        fallback texts (a resolve notice keeps its alert's severity; its title says
        ``Resolved:``)."""
        return self.severity.upper()

    def to_payload(self) -> str:
        """The JSON kept in the outbox row."""
        return json.dumps(
            {
                "kind": self.kind,
                "title": self.title,
                "severity": self.severity,
                "fields": self.fields,
                "labels": self.labels,
                "dedupKey": self.dedup_key,
                "links": self.links,
                "text": self.text,
                "details": self.details,
            },
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_payload(cls, payload: str) -> Notification:
        """The notification an outbox row holds."""
        data = json.loads(payload)
        return cls(
            kind=cast(Kind, data["kind"]),
            title=data["title"],
            severity=cast(Severity, data["severity"]),
            fields={str(k): str(v) for k, v in data.get("fields", {}).items()},
            labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
            dedup_key=data["dedupKey"],
            links={str(k): str(v) for k, v in data.get("links", {}).items()},
            text=data.get("text", ""),
            details=dict(data.get("details", {})),
        )


def absolute_links(links: dict[str, str], base_url: str | None) -> dict[str, str]:
    """Links with relative URLs joined to ``base_url`` (``linksBaseUrl``); without a base
    they stay relative. ``/alerts/7`` on ``https://ops.example.com/alignops`` is
    ``https://ops.example.com/alignops/alerts/7`` (the base's path is kept)."""
    out: dict[str, str] = {}
    for text, url in links.items():
        if base_url and not _is_absolute(url):
            url = base_url.rstrip("/") + "/" + url.lstrip("/")
        out[text] = url
    return out


def _is_absolute(url: str) -> bool:
    scheme, sep, _ = url.partition("://")
    return (bool(sep) and scheme.isalpha()) or url.startswith("mailto:")
