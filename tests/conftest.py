"""Fixtures: real Git config repositories in temp folders, the CLI in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignops.cli import app
from alignops.runtime import processes
from alignops.scaffold import scaffold
from alignops.source import ConfigRepository

FUNCTION = """\
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: {name}
  labels:
    team: ai-platform
spec:
  handler: functions.scorer:score
  memory: {memory}
"""

BRIEF_MESSAGE = "Serverless function memory limit exceeds 512MB for cost optimization."


@pytest.fixture(autouse=True, scope="session")
def _no_leaked_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the run, stop every alignops process (service, activator, launcher)
    whose state folder is under this run's temp folder: a test that forgot to stop one
    must not leave it running (they hold hundreds of MB each)."""
    yield
    base = str(tmp_path_factory.getbasetemp().resolve())
    for marker in (
        "-m alignops.runtime ",
        "-m alignops.runtime.activator ",
        "-m alignops.runtime.launcher ",
    ):
        for info in processes.find(marker):
            if base in info.command:
                processes.stop(info.pid, info.start, base, grace=10.0)


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own state database and a fixed committer."""
    db = tmp_path_factory.mktemp("state") / "state.db"
    monkeypatch.setenv("ALIGNOPS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("ALIGNOPS_GIT_NAME", "Test Committer")
    monkeypatch.setenv("ALIGNOPS_GIT_EMAIL", "test@example.com")
    monkeypatch.setenv("ALIGNOPS_ACTOR", "pytest")


@dataclass
class Repo:
    """A scaffolded config repository with helpers to change and commit it."""

    path: Path
    git: ConfigRepository

    def write(self, relative: str, text: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def commit(self, message: str = "change") -> str:
        return self.git.commit_all(message)

    def function(self, name: str, memory: int) -> str:
        path = f"functions/{name}.yaml"
        self.write(path, FUNCTION.format(name=name, memory=memory))
        return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "config"
    return Repo(path, scaffold(path))


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli() -> object:
    runner = CliRunner()

    def invoke(*args: str, cwd: Path | None = None) -> Run:
        old = Path.cwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            result = runner.invoke(app, list(args), catch_exceptions=False, color=False)
        finally:
            os.chdir(old)
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


def run_alignops(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed console script in a real process (for exit codes and stderr)."""
    exe = Path(sys.executable).with_name("alignops")
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
