"""``alignops init``: new config repositories from the templates shipped in the package."""

from __future__ import annotations

import shutil
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from alignops.errors import UsageError
from alignops.source.repository import ConfigRepository

__all__ = ["TEMPLATES", "scaffold"]

_ROOT = resources.files("alignops.scaffold") / "templates"
TEMPLATES = ("basic", "acs-employment")
_RENAMES = {"gitignore": ".gitignore"}


def _copy(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.name == "__pycache__":
            continue
        name = _RENAMES.get(entry.name, entry.name)
        if entry.is_dir():
            (target / name).mkdir(exist_ok=True)
            _copy(entry, target / name)
        else:
            with resources.as_file(entry) as path:
                shutil.copyfile(path, target / name)


def scaffold(directory: Path, *, template: str = "basic") -> ConfigRepository:
    """Create ``directory`` as a Git repository holding the template, first commit made."""
    if template not in TEMPLATES:
        raise UsageError(f"unknown template {template!r}; available: {', '.join(TEMPLATES)}")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{directory} exists and is not an empty folder")
    directory.mkdir(parents=True, exist_ok=True)
    _copy(_ROOT / template, directory)
    if template == "acs-employment":
        from alignops.scaffold import acs_employment

        acs_employment.generate(directory)
    repo = ConfigRepository.init(directory)
    repo.commit_all("Initial alignops config repository")
    return repo
