"""Progress of long work on stderr: a spinner on a terminal, plain lines in CI logs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from alignops.cli.output import stderr

__all__ = ["progress_reporter"]


@contextmanager
def progress_reporter(quiet: bool = False) -> Iterator[Callable[[str], None]]:
    if quiet:
        yield lambda _: None
        return
    if not stderr.is_terminal:
        started = time.perf_counter()

        def line(text: str) -> None:
            stderr.print(f"[{time.perf_counter() - started:6.1f}s] {text}", highlight=False)

        yield line
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task("working", total=None)
        yield lambda text: bar.update(task, description=text)
