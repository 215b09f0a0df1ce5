"""The curated public API: what ``alignops.__all__`` promises exists and is documented."""

from __future__ import annotations

import alignops


def test_public_names_exist_and_are_documented() -> None:
    for name in alignops.__all__:
        value = getattr(alignops, name)
        if callable(value) and name != "__version__":
            assert value.__doc__, f"alignops.{name} has no docstring"


def test_public_api_is_exactly_this() -> None:
    assert sorted(alignops.__all__) == sorted(
        [
            "KINDS",
            "AlignOpsError",
            "AuditLog",
            "ConfigRepository",
            "Database",
            "Finding",
            "InputError",
            "ManifestError",
            "PolicyError",
            "PolicySet",
            "Problem",
            "RepoConfig",
            "Resource",
            "Snapshot",
            "SourceError",
            "Verdict",
            "__version__",
            "check",
            "diff_snapshots",
        ]
    )


def test_library_use_end_to_end(tmp_path: object) -> None:
    from pathlib import Path

    from alignops.scaffold import scaffold

    repo = scaffold(Path(str(tmp_path)) / "r")
    verdict = alignops.check(repo.snapshot("HEAD"))
    assert verdict.outcome == "pass"
