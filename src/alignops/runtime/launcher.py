"""The launcher: a warm process that forks service processes in a tenth of a second.

A new ``python -m alignops.runtime`` process spends seconds importing scikit-learn, skops,
pandas and uvicorn before it can load a model; that is most of a deploy and all of a
cold start. The launcher imports them once and then forks a child per service start:
the child inherits the imported modules, loads its spec and model, and answers
``/health`` about 0.1 s later (decision 0026).

One launcher serves one runtime folder (``.alignops/runtime``). It listens on an
abstract Unix socket named after the folder (no file, no path-length limit) and takes
one JSON request per connection:

- ``{"op": "spawn", "spec": PATH, "log": PATH, "cwd": PATH, "stamp": S}`` →
  ``{"pid": N, "launcher", "stamp"}``: a child
  in its own session, stdout and stderr appended to ``log``, its command line set to
  ``… -m alignops.runtime --spec PATH`` so :func:`~alignops.runtime.processes.owns`
  identifies it exactly like a process started directly;
- ``{"op": "ping"}`` → ``{"launcher": PID, "stamp": S}``.

A request whose ``stamp`` (see :func:`code_stamp`) is not the launcher's gets no child:
the launcher exits, and the client starts the process itself.

When a child exits, the launcher reaps it and writes its exit status to ``<spec>.exit``
next to the spec (:func:`exit_status` reads it), so a supervisor that is not the parent
still learns why a new process died. The launcher exits by itself after
``--idle-seconds`` without requests, when its folder is deleted, or when the code it
imported changed on disk (its *stamp* no longer matches a new client's); children outlive
it. Everything here is an optimisation: :class:`Launcher.spawn` returns None when no
launcher answers, and callers start the process directly.

Linux only (abstract sockets, ``/proc``); elsewhere :meth:`Launcher.available` is False.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from alignops.runtime import processes

__all__ = ["Launcher", "exit_status", "main"]

_PRELOAD = (
    "numpy",
    "pandas",
    "sklearn.base",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.compose",
    "skops.io",
    "uvicorn",
    "uvloop",
    "httptools",
    "alignops.runtime.serve",
    "alignops.runtime.app",
    "alignops.runtime.predict",
    "alignops.runtime.function",
)
"""What a service process imports: the launcher holds it, every child shares it."""

_ACCEPT_SECONDS = 0.2
_MARKER = "-m alignops.runtime.launcher --root"


def _address(root: Path) -> str:
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return f"\0alignops-launcher-{digest}"


def code_stamp() -> str:
    """Version, interpreter and the modification times of the alignops code files: a
    launcher whose stamp differs from its client's runs stale code."""
    from alignops._version import __version__

    root = Path(__file__).resolve().parents[1]
    parts = [__version__, sys.executable]
    for path in sorted(root.rglob("*.py")):
        with contextlib.suppress(OSError):
            parts.append(f"{path.relative_to(root)}:{path.stat().st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def exit_status(spec: Path) -> int | None:
    """The exit status the launcher recorded for the child started with ``spec``."""
    try:
        return int(spec.with_suffix(".exit").read_text().strip())
    except (OSError, ValueError):
        return None


class Launcher:
    """The client side: ask the launcher of ``root`` to fork a service; start one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = _address(root)
        self._stamp: str | None = None

    @staticmethod
    def available() -> bool:
        return sys.platform.startswith("linux") and hasattr(os, "fork")

    @property
    def stamp(self) -> str:
        if self._stamp is None:
            self._stamp = code_stamp()
        return self._stamp

    def _request(self, message: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        if not self.available():
            return None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(self.address)
                sock.sendall(json.dumps(message).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        try:
            answer = json.loads(data)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def ready(self) -> bool:
        """A launcher of the current code answers."""
        answer = self._request({"op": "ping", "stamp": self.stamp}, timeout=2.0)
        return answer is not None and answer.get("stamp") == self.stamp

    def spawn(self, spec: Path, *, log: Path, cwd: Path) -> int | None:
        """Fork a service process for ``spec``; its pid, or None if no launcher of the
        current code answers (the caller starts the process itself)."""
        message = {
            "op": "spawn",
            "spec": str(spec),
            "log": str(log),
            "cwd": str(cwd),
            "stamp": self.stamp,
        }
        answer = self._request(message, timeout=10.0)
        if answer is None or not isinstance(answer.get("pid"), int):
            return None
        return int(answer["pid"])

    def start_service(self, spec: Path, *, log: Path, cwd: Path) -> int:
        """Start the service process for ``spec``: forked by the launcher when one of the
        current code answers, else as a new interpreter (and a launcher is started in the
        background for the next one). Its pid."""
        pid = self.spawn(spec, log=log, cwd=cwd)
        if pid is None:
            argv = [sys.executable, "-m", "alignops.runtime", "--spec", str(spec)]
            pid = processes.spawn(argv, log=log, cwd=cwd).pid
            self.start()
        return pid

    def start(self, *, idle_seconds: float = 900.0) -> None:
        """Start a launcher in the background unless one answers; does not wait for it."""
        if not self.available() or self.ready():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "alignops.runtime.launcher",
            "--root",
            str(self.root.resolve()),
            "--idle-seconds",
            f"{idle_seconds:g}",
        ]
        processes.spawn(argv, log=self.root / "launcher.log", cwd=self.root)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> int:
        """Stop the launchers of this folder (the services they started keep running);
        how many there were."""
        found = processes.find(f"{_MARKER} {self.root.resolve()} ")
        for info in found:
            processes.stop(info.pid, info.start, _MARKER, grace=5.0)
        return len(found)


# -- the launcher process -----------------------------------------------------------------


class _Server:
    def __init__(self, root: Path, idle_seconds: float) -> None:
        self.root = root
        self.idle_seconds = idle_seconds
        self.stamp = code_stamp()
        self.children: dict[int, Path] = {}
        self.last_request = time.monotonic()
        self.stopping = False

    def run(self) -> int:
        for name in _PRELOAD:
            __import__(name)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            if not _bind(listener, _address(self.root)):
                return 0  # another launcher of this folder holds the address
            listener.listen(64)
            listener.settimeout(_ACCEPT_SECONDS)
            print(f"alignops launcher: ready for {self.root} (pid {os.getpid()})", flush=True)
            while not self.stopping:
                self._reap()
                if self._should_exit():
                    break
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except InterruptedError:
                    continue
                with conn:
                    self.last_request = time.monotonic()
                    if not self._serve(conn, listener):
                        break
        self._reap()
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _should_exit(self) -> bool:
        if time.monotonic() - self.last_request > self.idle_seconds:
            print("alignops launcher: idle; exiting", flush=True)
            return True
        return not self.root.is_dir()

    def _serve(self, conn: socket.socket, listener: socket.socket) -> bool:
        """Answer one request; False when this launcher should exit (stale code)."""
        conn.settimeout(5.0)
        data = b""
        with contextlib.suppress(OSError):
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        try:
            message = json.loads(data)
        except ValueError:
            return True
        stale = message.get("stamp") not in (None, self.stamp)
        answer: dict[str, Any] = {"launcher": os.getpid(), "stamp": self.stamp}
        if message.get("op") == "spawn" and not stale:
            answer["pid"] = self._fork(message, conn, listener)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(answer).encode() + b"\n")
        if stale:
            print("alignops launcher: the code changed on disk; exiting", flush=True)
        return not stale

    def _fork(self, message: dict[str, Any], conn: socket.socket, listener: socket.socket) -> int:
        spec = Path(message["spec"])
        log = Path(message["log"])
        cwd = Path(message["cwd"])
        spec.with_suffix(".exit").unlink(missing_ok=True)
        ready, named = os.pipe()
        pid = os.fork()
        if pid:
            self.children[pid] = spec
            os.close(named)
            # Answer once the child carries its name: from then on owns() knows it.
            with contextlib.suppress(OSError):
                select.select([ready], [], [], 5.0)
            os.close(ready)
            return pid
        # The child: never returns.
        status = 3
        try:
            os.close(ready)
            conn.close()
            listener.close()
            _become_service(spec, log, cwd, named)
        except BaseException:  # noqa: BLE001 - a child must not return into the launcher
            import traceback

            traceback.print_exc()
        finally:
            os._exit(status)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            spec = self.children.pop(pid, None)
            if spec is not None:
                code = os.waitstatus_to_exitcode(status)
                code = 128 - code if code < 0 else code  # killed by signal N → 128 + N
                with contextlib.suppress(OSError):
                    spec.with_suffix(".exit").write_text(f"{code}\n")


def _bind(listener: socket.socket, address: str, wait: float = 5.0) -> bool:
    """Bind, waiting a little for a stale launcher that is exiting to let go."""
    deadline = time.monotonic() + wait
    while True:
        try:
            listener.bind(address)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def _become_service(spec: Path, log: Path, cwd: Path, named: int) -> None:
    """In the forked child: a session of its own, its log, its name; then serve."""
    import setproctitle

    from alignops.runtime.serve import EXIT_INTERNAL, serve

    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    os.chdir(cwd)
    setproctitle.setproctitle(f"{sys.executable} -m alignops.runtime --spec {spec}")
    os.close(named)  # tells the launcher the name is set
    try:
        status = serve(spec)
    except Exception:  # noqa: BLE001 - the last line of defence, as in serve.main
        import traceback

        traceback.print_exc()
        status = EXIT_INTERNAL
    # Recorded here too: the launcher may be gone by now (stale code, idle) and then
    # nobody reaps this process. Killed by a signal, only the launcher can record it.
    with contextlib.suppress(OSError):
        spec.with_suffix(".exit").write_text(f"{status}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m alignops.runtime.launcher",
        description="Keep the runtime's imports warm and fork service processes.",
    )
    parser.add_argument("--root", type=Path, required=True, help="the runtime folder")
    parser.add_argument("--idle-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    sys.exit(_Server(args.root, args.idle_seconds).run())


if __name__ == "__main__":
    main()
