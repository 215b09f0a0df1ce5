"""Models with behaviour the runtime must cope with, loaded by the service under test.

They are plain classes pickled by the tests and loaded with ``trusted: true``: the
service process imports this module (``tests.runtime.models``) to unpickle them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

_HELD: list[bytes] = []


class SlowModel:
    """Answers 0 for every row after sleeping ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, X: Any) -> Any:
        time.sleep(self.seconds)
        return np.zeros(len(X), dtype=np.int64)


class MemoryHog:
    """Keeps ``megabytes`` more of memory, written to (so resident), on every call."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes

    def predict(self, X: Any) -> Any:
        _HELD.append(b"\x01" * (self.megabytes * 1024 * 1024))
        return np.full(len(X), len(_HELD), dtype=np.int64)
