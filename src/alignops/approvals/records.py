"""Approval records: ``approvals/**.yaml``, each a signed statement by one person.

::

    apiVersion: alignops.dev/v1alpha1
    kind: Approval
    spec:
      resource: Model/employment-fair      # or governance/groups.yaml
      digests:                             # what exactly is approved
        model: <sha256 of the model artifact>
        policy: <sha256 of the policies that select the model>
      approver: ada
      group: ai-ethics-committee
      approvedAt: "2026-11-23T10:00:00+00:00"
      comment: reviewed the fairness and explainability evidence
    signature: |
      -----BEGIN SSH SIGNATURE-----
      …

The signature is an SSH signature (namespace ``alignops-approval``, the format of
``ssh-keygen -Y sign``) over the canonical JSON of ``spec``. Anything that changes the
spec — another digest, another approver, another group — breaks the signature.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from pydantic import Field, ValidationError

from alignops.approvals import sshsig
from alignops.errors import ApprovalError, ManifestError
from alignops.manifests.base import Spec
from alignops.manifests.documents import parse_documents
from alignops.manifests.loader import validation_problems
from alignops.manifests.snapshot import FileVersion, Snapshot

__all__ = [
    "APPROVALS_DIR",
    "ApprovalRecord",
    "ApprovalSpec",
    "LoadedRecord",
    "canonical",
    "load_records",
    "public_key_line",
    "record_path",
    "render_record",
    "sign_spec",
    "verify_governance_approvals",
    "verify_signature",
]

APPROVALS_DIR = "approvals/"


class ApprovalSpec(Spec):
    resource: str = Field(pattern=r"^(Model/[a-z0-9][-a-z0-9.]*|governance/groups\.yaml)$")
    digests: dict[str, str]
    approver: str
    group: str | None = None
    approved_at: datetime
    comment: str = ""


class ApprovalRecord(Spec):
    api_version: Literal["alignops.dev/v1alpha1"] = "alignops.dev/v1alpha1"
    kind: Literal["Approval"] = "Approval"
    spec: ApprovalSpec
    signature: str | None = None


@dataclass(frozen=True)
class LoadedRecord:
    path: str
    record: ApprovalRecord | None
    error: str | None = None


def canonical(spec: ApprovalSpec) -> bytes:
    """The exact bytes that are signed."""
    data = spec.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_spec(spec: ApprovalSpec, private_key: bytes, *, password: bytes | None = None) -> str:
    return sshsig.sign(
        canonical(spec),
        private_key,
        namespace=sshsig.SIGNATURE_NAMESPACE_APPROVAL,
        password=password,
    )


def verify_signature(record: ApprovalRecord, keys: list[str]) -> None:
    """Raise :class:`ApprovalError` unless one of ``keys`` signed this record's spec."""
    if not record.signature:
        raise ApprovalError("not signed")
    sshsig.verify(
        canonical(record.spec),
        record.signature,
        namespace=sshsig.SIGNATURE_NAMESPACE_APPROVAL,
        allowed_keys=keys,
    )


def record_path(spec: ApprovalSpec) -> str:
    subject = spec.resource.replace("Model/", "").replace("/", "-").replace(".yaml", "")
    digest = next(iter(spec.digests.values()), "")[:12]
    who = f"{spec.approver}-{spec.group}" if spec.group else spec.approver
    return f"{APPROVALS_DIR}{subject}/{who}-{digest}.yaml"


def render_record(record: ApprovalRecord) -> str:
    spec = record.spec
    lines = [
        f"apiVersion: {record.api_version}",
        "kind: Approval",
        "spec:",
        f"  resource: {spec.resource}",
        "  digests:",
        *(f"    {k}: {json.dumps(v)}" for k, v in sorted(spec.digests.items())),
        f"  approver: {spec.approver}",
    ]
    if spec.group:
        lines.append(f"  group: {spec.group}")
    lines.append(f"  approvedAt: {json.dumps(spec.approved_at.isoformat())}")
    if spec.comment:
        lines.append(f"  comment: {json.dumps(spec.comment, ensure_ascii=False)}")
    if record.signature:
        lines.append("signature: |")
        lines.extend(f"  {line}" for line in record.signature.strip().splitlines())
    return "\n".join(lines) + "\n"


def load_records(snapshot: Snapshot) -> list[LoadedRecord]:
    """Every approval record of the snapshot; unreadable ones carry their error."""
    out = []
    for path in sorted(p for p in snapshot.files if p.startswith(APPROVALS_DIR)):
        if not re.search(r"\.ya?ml$", path):
            continue
        try:
            docs = parse_documents(path, snapshot.read(path))
            if len(docs) != 1:
                raise ManifestError.single(path, "must hold exactly one approval", line=1)
            try:
                record = ApprovalRecord.model_validate(docs[0].value)
            except ValidationError as exc:
                raise ManifestError(
                    "", problems=validation_problems(docs[0], exc, ApprovalRecord)
                ) from None
            out.append(LoadedRecord(path, record))
        except ManifestError as exc:
            out.append(LoadedRecord(path, None, str(exc)))
    return out


def verify_governance_approvals(
    records: Iterable[LoadedRecord], trusted: object, digest: str, version: FileVersion
) -> tuple[int, list[str]]:
    """How many admins of ``trusted`` validly approved governance content ``digest``
    (not counting the change's author), and why the others do not count."""
    from alignops.approvals.governance import GOVERNANCE_FILE, Governance

    assert isinstance(trusted, Governance)
    counted: set[str] = set()
    reasons: list[str] = []
    author = trusted.member_by_email(version.author_email)
    for loaded in records:
        record = loaded.record
        if record is None or record.spec.resource != GOVERNANCE_FILE:
            continue
        spec = record.spec
        if spec.digests.get("governance") != digest:
            continue  # an approval of another version
        where = loaded.path
        if spec.approver not in trusted.admins:
            reasons.append(f"{where}: {spec.approver} is not an admin of the previous version")
            continue
        if author is not None and author.name == spec.approver:
            reasons.append(
                f"{where}: {spec.approver} authored the change; their own approval does not count"
            )
            continue
        member = trusted.member(spec.approver)
        assert member is not None
        try:
            verify_signature(record, member.keys)
        except ApprovalError as exc:
            reasons.append(f"{where}: {exc}")
            continue
        counted.add(spec.approver)
    return len(counted), reasons


def public_key_line(private_key: bytes, *, password: bytes | None = None) -> str:
    """The OpenSSH public key line of a private key file's content."""
    from cryptography.hazmat.primitives import serialization

    try:
        try:
            key = serialization.load_ssh_private_key(private_key, password=password)
        except ValueError:
            key = serialization.load_pem_private_key(private_key, password=password)  # type: ignore[assignment]
    except TypeError:
        raise ApprovalError("the private key is encrypted; give its password") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ApprovalError(f"not a usable private key: {exc}") from None
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
