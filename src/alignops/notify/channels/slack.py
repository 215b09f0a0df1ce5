"""``slack://#channel``: a Slack incoming-webhook message.

The webhook URL is the route's secret. The body is ``{"channel", "text", "blocks"}``:
``text`` is the fallback shown in notifications (``[WARNING] Data drift on …``), and the
blocks are a header (the title), sections of fields (deployment, environment, metric,
value, threshold, window …), the markdown text turned into Slack's ``mrkdwn``, buttons
for absolute links and a context line (kind, severity, delivery id, dedup key).
Block limits (header 150 characters, 10 fields a section, 3,000 characters a text, 25
buttons) are respected by cutting, never by failing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import SecretRef
from alignops.notify.channels.base import Channel, Envelope, SendContext, register_channel
from alignops.notify.channels.http import post
from alignops.notify.notification import absolute_links
from alignops.notify.routes import Route
from alignops.notify.secrets import Secret, SecretUnavailable

__all__ = ["SlackChannel", "mrkdwn", "render_slack"]

EMOJI = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
    "resolved": ":white_check_mark:",
}
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.M)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    text = _escape(text)
    text = _HEADING.sub(r"*\1*", text)
    return _BOLD.sub(r"*\1*", text)


def _is_web(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def mrkdwn(markdown: str, base_url: str | None = None) -> str:
    """Markdown as Slack's ``mrkdwn``: ``&<>`` escaped, ``**bold**`` and ``# headings``
    as ``*bold*``, ``[text](url)`` as ``<url|text>`` (relative URLs joined to
    ``base_url``; still relative ones stay as text)."""
    pieces: list[str] = []
    position = 0
    for match in _LINK.finditer(markdown):
        pieces.append(_plain(markdown[position : match.start()]))
        text, url = match.group(1), match.group(2)
        url = absolute_links({"": url}, base_url)[""]
        if _is_web(url):
            pieces.append(f"<{url}|{_escape(text).replace('|', '¦')}>")
        else:
            pieces.append(_plain(f"{text} ({url})"))
        position = match.end()
    pieces.append(_plain(markdown[position:]))
    return "".join(pieces)


def render_slack(envelope: Envelope, base_url: str | None = None) -> dict[str, Any]:
    """The incoming-webhook body for ``envelope``."""
    n = envelope.notification
    emoji = EMOJI["resolved" if n.kind == "resolved" else n.severity]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(f"{emoji} {n.title}", 150), "emoji": True},
        }
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{_escape(k[:1].upper() + k[1:])}*\n{_escape(v)}", 2000)}
        for k, v in n.fields.items()
    ]
    for start in range(0, min(len(fields), 40), 10):
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if n.text.strip():
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(mrkdwn(n.text, base_url), 3000)},
            }
        )
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(text, 75)},
            "url": url,
            "action_id": f"link-{i}",
        }
        for i, (text, url) in enumerate(envelope.links.items())
        if _is_web(url) and len(url) <= 3000
    ][:25]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    context = [
        f"*{n.kind}* · severity {n.severity}",
        f"alignops notification {envelope.id} · dedup key `{_escape(n.dedup_key)}`",
    ]
    context.extend(
        f"{_escape(text)}: {_escape(url)}"
        for text, url in envelope.links.items()
        if not _is_web(url)
    )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(t, 3000)} for t in context[:10]],
        }
    )
    return {"channel": envelope.target.address, "text": f"[{n.tag}] {n.title}", "blocks": blocks}


@register_channel("slack")
class SlackChannel(Channel):
    """Posts to the incoming-webhook URL kept in the route's secret."""

    def secret_ref(self, route: Route, settings: NotificationSettings) -> SecretRef | None:
        if route.secret_ref is None:
            raise SecretUnavailable(
                "a slack:// route needs secretRef: the Slack incoming-webhook URL"
            )
        return route.secret_ref

    def send(self, envelope: Envelope, secret: Secret | None, context: SendContext) -> None:
        assert secret is not None  # secret_ref() always asks for one
        url = secret.reveal()
        if not _is_web(url):
            raise SecretUnavailable(f"the {secret.source} does not hold an http(s) URL")
        body = json.dumps(render_slack(envelope, context.settings.links_base_url)).encode()
        post(
            url,
            body,
            {"Content-Type": "application/json; charset=utf-8"},
            timeout=context.settings.timeout_seconds,
            ssl_context=context.ssl_context,
        )
