"""One HTTP POST for the ``slack`` and ``webhook`` channels, with library errors turned
into :class:`DeliveryError` in this one place.

httpx's transport, called directly: its ``Client`` logs every request's URL (at INFO),
and a Slack incoming-webhook URL is a secret. The timeout of
``notifications.timeoutSeconds`` applies to connect, write and read; redirects are not
followed (they are reported: a notification is not re-posted somewhere else than
configured); the system's trust store is used unless a context is given; the proxy
variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) are honoured as urllib reads
them.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Mapping

from alignops._version import __version__
from alignops.notify.channels.base import DeliveryError

__all__ = ["USER_AGENT", "post"]

USER_AGENT = f"alignops/{__version__}"
_SNIPPET = 200
_trust: list[ssl.SSLContext] = []


def _system_trust() -> ssl.SSLContext:
    """httpx's default client context, made once per process: loading the CA bundle
    takes ~0.2 s, which every send would pay otherwise."""
    if not _trust:
        import httpx

        _trust.append(httpx.create_ssl_context())
    return _trust[0]


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """POST ``body`` to ``url``; :class:`DeliveryError` unless the answer is 2xx."""
    try:
        import httpx  # imported when a notification is sent: it is slow to import
    except ImportError:
        raise DeliveryError("httpx is not installed: pip install 'alignops[runtime]'") from None

    verify = ssl_context if ssl_context is not None else _system_trust()
    try:
        request = httpx.Request(
            "POST",
            url,
            content=body,
            headers={"User-Agent": USER_AGENT, **headers},
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )
        proxy = _proxy_for(request.url.scheme, request.url.host)
        with httpx.HTTPTransport(verify=verify, proxy=proxy) as transport:
            response = transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer within {timeout:g} s (timeout)") from None
    except httpx.ConnectError as exc:
        raise DeliveryError(f"cannot connect: {exc}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 300:
        text = " ".join(response.text[:_SNIPPET].split())
        kind = " (redirects are not followed)" if response.status_code < 400 else ""
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        detail = f": {text}" if text else ""
        raise DeliveryError(f"HTTP {response.status_code}{reason}{kind}{detail}")


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment names for ``scheme``, unless ``host`` bypasses it."""
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy
