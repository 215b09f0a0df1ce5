"""The one exception tree of alignops.

Every error a user can cause or meet is an :class:`AlignOpsError`; anything else
escaping to the CLI is a bug and exits 3. Messages are scoped and actionable
(``models/fraud/model.yaml:12: spec.artifact.sha256: expected 64 hex characters``).

::

    AlignOpsError                      exit 3 unless a subclass says otherwise
    ├── InputError                     exit 2: the user's input is wrong
    │   ├── ManifestError              YAML syntax, schema, limits, path escapes
    │   ├── SourceError                not a repository, unknown revision
    │   ├── PolicyError                Rego that does not parse or compile
    │   └── UsageError                 bad command-line arguments
    ├── EvidenceError                  evidence cannot be produced
    ├── ApprovalError                  approval records that cannot be read
    ├── ReconcileError
    │   ├── TemporaryError(delay=…)    retry after ``delay`` seconds
    │   └── PermanentError             retrying will not help
    ├── ProviderError                  a target's SDK or API failed
    ├── LedgerError                    the cost ledger
    └── AuditError                     the audit store
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlignOpsError",
    "ApprovalError",
    "AuditError",
    "EvidenceError",
    "InputError",
    "LedgerError",
    "ManifestError",
    "PermanentError",
    "PolicyError",
    "Problem",
    "ProviderError",
    "ReconcileError",
    "SourceError",
    "TemporaryError",
    "UsageError",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located as precisely as we know."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


class AlignOpsError(Exception):
    """Base of every alignops error."""

    exit_code = 3

    def __init__(self, message: str, *, problems: tuple[Problem, ...] | list[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] if self.message else []
        lines.extend(str(p) for p in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message or str(self),
            "problems": [p.to_dict() for p in self.problems],
        }


class InputError(AlignOpsError):
    """The user's input is wrong; nothing was changed."""

    exit_code = 2


class ManifestError(InputError):
    """A manifest or the repo config cannot be parsed or does not validate."""

    @classmethod
    def single(
        cls,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> ManifestError:
        problem = Problem(file=file, message=message, line=line, column=column, field=field)
        return cls("", problems=(problem,))


class SourceError(InputError):
    """The repository or revision cannot be read."""


class PolicyError(InputError):
    """A Rego module or policy data file cannot be parsed or compiled."""


class UsageError(InputError):
    """Wrong command-line usage."""


class EvidenceError(AlignOpsError):
    """Responsible-AI evidence cannot be produced."""


class ApprovalError(AlignOpsError):
    """Approval records or the governance file cannot be read."""


class ReconcileError(AlignOpsError):
    """Reconciling desired and live state failed."""


class TemporaryError(ReconcileError):
    """A failure worth retrying after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float = 10.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(ReconcileError):
    """A failure that retrying will not fix."""


class ProviderError(AlignOpsError):
    """A target provider's SDK or API failed."""


class LedgerError(AlignOpsError):
    """The cost ledger failed."""


class AuditError(AlignOpsError):
    """The audit store cannot be read or written."""
