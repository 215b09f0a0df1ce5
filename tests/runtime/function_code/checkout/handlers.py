"""Two handlers, one plain and one ``async def``; the event's ``"do"`` says what to do:

- ``echo`` (default): answer with the event and what the handler saw;
- ``sleep``: take ``seconds`` first (``mark``: a file the async one writes if cancelled);
- ``fail``: raise ``ValueError``;
- ``set``: return a set, which is not JSON;
- ``hog``: keep ``mb`` more megabytes of memory, written to (so resident).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from checkout.pricing import total

GREETING_AT_IMPORT = os.environ.get("GREETING")
_HELD: list[bytes] = []


def _seen(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "total": total(event.get("items", [])),
        "requestId": context.request_id,
        "deployment": context.deployment,
        "environment": context.environment,
        "revision": context.revision,
        "remainingSeconds": context.remaining_seconds(),
        "greeting": os.environ.get("GREETING"),
        "greetingAtImport": GREETING_AT_IMPORT,
        "thread": threading.current_thread().name,
    }


def handle(event: dict[str, Any], context: Any) -> Any:
    do = event.get("do", "echo")
    if do == "sleep":
        time.sleep(event["seconds"])
    elif do == "fail":
        raise ValueError(f"no customer {event['customer']!r}")
    elif do == "set":
        return {1, 2}
    elif do == "hog":
        _HELD.append(b"\x01" * (event["mb"] * 1024 * 1024))
        return len(_HELD)
    return _seen(event, context)


async def handle_async(event: dict[str, Any], context: Any) -> Any:
    do = event.get("do", "echo")
    if do == "sleep":
        try:
            await asyncio.sleep(event["seconds"])
        except asyncio.CancelledError:
            Path(event["mark"]).write_text("cancelled")
            raise
    elif do == "fail":
        raise ValueError(f"no customer {event['customer']!r}")
    return _seen(event, context)
