"""The memory limit: a thread that samples the process's resident memory.

Every ``interval`` seconds it reads ``/proc/self/statm`` (one small read, no allocation
worth counting). The peak it reports is the larger of its own samples and the kernel's
high-water mark (``ru_maxrss``), so memory used while models loaded counts too. When
the resident set exceeds the limit it calls ``on_exceeded`` once and stops; the service
then refuses requests and exits with :data:`MEMORY_EXIT_CODE` (decision 0013).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["MEMORY_EXIT_CODE", "MemoryWatch", "process_start_time"]

MEMORY_EXIT_CODE = 137
"""Exit status after the memory limit was exceeded: 128 + SIGKILL, what a container
runtime reports for an OOM kill."""

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MB = 1024 * 1024


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the high-water mark is the best we have
        return _maxrss_bytes()


def _maxrss_bytes() -> int:
    """This process's peak resident memory. On Linux ``VmHWM`` of its own memory map:
    ``ru_maxrss`` survives ``exec`` and ``fork``, so a service started by a big parent
    (a test runner, the launcher) would report the parent's peak as its own."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def process_start_time() -> float:
    """When this process started (Unix time), from ``/proc``; now if unknown."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5): starttime, after pid and comm
        with open("/proc/stat", "rb") as boot:
            btime = next(int(line.split()[1]) for line in boot if line.startswith(b"btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


class MemoryWatch:
    """Samples RSS in a daemon thread; calls ``on_exceeded(rss_mb)`` once past the limit."""

    def __init__(
        self, limit_mb: int, *, interval: float, on_exceeded: Callable[[float], None]
    ) -> None:
        self.limit_mb = limit_mb
        self._interval = interval
        self._on_exceeded = on_exceeded
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self.rss_mb = _rss_bytes() / _MB
        self._peak_mb = self.rss_mb
        self.exceeded = False

    @property
    def peak_mb(self) -> float:
        return max(self._peak_mb, _maxrss_bytes() / _MB)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def sample(self) -> float:
        """Read RSS now; returns it in MB and keeps the peak."""
        rss = _rss_bytes() / _MB
        self.rss_mb = rss
        self._peak_mb = max(self._peak_mb, rss)
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            rss = self.sample()
            if rss > self.limit_mb:
                self.exceeded = True
                self._on_exceeded(rss)
                return
