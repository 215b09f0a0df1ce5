"""Service processes on this machine: start them detached, find them again, stop them.

A process is identified by three things recorded when it started: its pid, its start
time as the kernel reports it, and a *marker* — a string only its command line holds
(the path of its spec file, which is unique per instance). A pid alone is not enough:
once a process exits, the kernel hands its pid to the next process that starts, and a
supervisor that trusted the pid would report that stranger as the service, or kill it.
:func:`owns` checks all three (decision 0017).

Linux is read through ``/proc``; elsewhere (macOS, the BSDs) through ``ps``. A zombie
(exited, not yet reaped by its parent) counts as gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessInfo", "find", "free_port", "inspect", "owns", "reap", "spawn", "stop"]

_PROC = Path("/proc/self/stat").exists()
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Processes this process started: kept so they can be reaped, never left as zombies."""


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    start: str
    """Start time as the kernel reports it (clock ticks since boot on Linux)."""
    command: str
    """The command line, arguments joined by spaces."""


def inspect(pid: int) -> ProcessInfo | None:
    """The process ``pid`` if it runs (not a zombie), else None."""
    if pid <= 0:
        return None
    return _inspect_proc(pid) if _PROC else _inspect_ps(pid)


def _inspect_proc(pid: int) -> ProcessInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses; fields follow the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return ProcessInfo(pid, fields[19], command.replace(b"\0", b" ").decode(errors="replace"))


def _inspect_ps(pid: int) -> ProcessInfo | None:
    out = _ps("-o", "stat=,lstart=,command=", "-p", str(pid))
    if not out:
        return None
    parts = out.split(None, 6)  # stat, then lstart "Sun Nov 23 11:43:00 2025", then command
    if len(parts) < 7 or parts[0].startswith("Z"):
        return None
    return ProcessInfo(pid, " ".join(parts[1:6]), parts[6])


def _ps(*args: str) -> str:
    try:
        result = subprocess.run(
            ["ps", "-ww", *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def owns(pid: int | None, start: str | None, marker: str) -> bool:
    """Whether ``pid`` is still the process that was started with ``marker`` at ``start``."""
    if pid is None:
        return False
    info = inspect(pid)
    if info is None or marker not in info.command:
        return False
    return start is None or info.start == start


def find(marker: str) -> list[ProcessInfo]:
    """Running processes whose command line holds ``marker`` (for a process started
    whose pid was never recorded)."""
    found: list[ProcessInfo] = []
    if _PROC:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                info = _inspect_proc(int(entry.name))
                if info is not None and marker in info.command:
                    found.append(info)
        return found
    for line in _ps("-axo", "pid=,command=").splitlines():
        pid, _, command = line.strip().partition(" ")
        if marker in command and pid.isdigit():
            info = _inspect_ps(int(pid))
            if info is not None:
                found.append(info)
    return found


def spawn(argv: list[str], *, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (it outlives the caller and its terminal), with
    stdout and stderr appended to ``log``."""
    for pid in list(_CHILDREN):  # a long-running caller must not pile up zombies
        reap(pid)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[process.pid] = process
    return process


def reap(pid: int) -> int | None:
    """The exit status of a process this process started, once it exited (reaping the
    zombie); None if it runs or is not a child of this process."""
    child = _CHILDREN.get(pid)
    if child is None:
        return None
    status = child.poll()
    if status is not None:
        del _CHILDREN[pid]
    return status


def stop(pid: int, start: str | None, marker: str, *, grace: float) -> str:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Signals only the process that
    :func:`owns` says is ours. Returns ``"stopped"``, ``"killed"`` or ``"gone"``."""
    if not owns(pid, start, marker):
        reap(pid)
        return "gone"
    if start is None:  # identify it by its start time from now on
        info = inspect(pid)
        start = info.start if info is not None else None
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, start, grace):
        return "stopped"
    if not _gone(pid, start):
        _signal(pid, signal.SIGKILL)
    _wait_gone(pid, start, 10.0)
    return "killed"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _gone(pid: int, start: str | None) -> bool:
    """The process exited: reaped, a zombie, no such pid, or the pid is another process's
    (its start time differs). Its command line is no sign: an exiting process's reads
    empty before the process is gone."""
    if reap(pid) is not None:
        return True
    info = inspect(pid)
    return info is None or (start is not None and info.start != start)


def _wait_gone(pid: int, start: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid, start):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    reap(pid)
    return True


def free_port(host: str) -> int:
    """A TCP port nobody listens on at ``host`` now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
