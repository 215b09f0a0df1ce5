"""Canary routing: which model version answers a request.

The choice is a weighted one, made from the request id: the id's 64-bit BLAKE2b hash
modulo 10,000 falls into one version's share of the cumulative percentages. A real hash,
so sequential ids (``req-1``, ``req-2``, ...) spread as evenly as random ones. A client
that sends the same ``X-Request-Id`` again gets the same version; the ids the service
makes itself (random UUIDs) spread requests by the percentages.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["Router"]


class _Weighted(Protocol):
    @property
    def percent(self) -> int: ...


_V = TypeVar("_V", bound=_Weighted)


class Router(Generic[_V]):
    """Weighted, deterministic choice among versions whose percents add up to 100."""

    def __init__(self, versions: Sequence[_V]) -> None:
        if sum(v.percent for v in versions) != 100:
            raise ValueError("percents must add up to 100")
        self._versions = [v for v in versions if v.percent > 0]
        bounds, total = [], 0
        for version in self._versions:
            total += version.percent * 100
            bounds.append(total)
        self._bounds = bounds
        self._only = self._versions[0] if len(self._versions) == 1 else None

    def choose(self, request_id: str) -> _V:
        """The version that serves ``request_id``."""
        if self._only is not None:
            return self._only
        digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % 10_000
        return self._versions[bisect.bisect_right(self._bounds, bucket)]
