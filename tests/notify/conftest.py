"""Notifier fixtures: a real state database and audit log, a clock the test moves, routes
written as YAML, real HTTP and SMTP servers on loopback, a self-signed certificate."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alignops.audit import AuditLog
from alignops.manifests import load_manifests
from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import AlertRoute
from alignops.notify import Notification, Notifier
from alignops.store import Database
from alignops.testing.http_capture import HttpCapture
from alignops.testing.smtp_capture import SmtpCapture

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The notifier's time: fixed until the test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def routes(text: str) -> list[AlertRoute]:
    """``AlertRoute`` resources from YAML, as a config repository would hold them."""
    out = []
    for resource in load_manifests("alerts/routes.yaml", text.encode()):
        assert isinstance(resource.model, AlertRoute)
        out.append(resource.model)
    return out


def settings(**values: Any) -> NotificationSettings:
    """Notification settings as written in ``alignops.yaml`` (camelCase keys)."""
    return NotificationSettings.model_validate(values)


def drift(**changes: Any) -> Notification:
    """A data-drift notification like the monitor's."""
    values: dict[str, Any] = {
        "kind": "firing",
        "title": "Data drift on employment-fair (production)",
        "severity": "warning",
        "fields": {
            "deployment": "employment-fair",
            "environment": "production",
            "metric": "psi",
            "value": "0.31",
            "threshold": "> 0.1",
            "window": "2026-03-02 08:00–09:00 UTC",
        },
        "labels": {
            "environment": "production",
            "deployment": "employment-fair",
            "rule": "employment-fair-drift",
            "metric": "psi",
            "severity": "warning",
        },
        "dedup_key": "alert:7:2026-03-02T08:00:00+00:00",
        "links": {"Open the alert": "/alerts/7"},
        "text": "**PSI 0.31** on `employment-fair`: drifted features AGEP, WKHP.\n\n"
        "See [the runbook](https://runbooks.example.com/drift).",
        "details": {"alert": 7, "features": {"AGEP": 0.31, "WKHP": 0.12}},
    }
    values.update(changes)
    return Notification(**values)


@dataclass
class World:
    """What a notifier test works with."""

    root: Path
    database: Database
    audit: AuditLog
    clock: Clock
    log_stream: io.StringIO

    def notifier(
        self, routes_yaml: str = "", notification_settings: NotificationSettings | None = None
    ) -> Notifier:
        return Notifier(
            routes(routes_yaml) if routes_yaml.strip() else [],
            notification_settings or settings(),
            database=self.database,
            audit=self.audit,
            root=self.root,
            clock=self.clock,
            log_stream=self.log_stream,
        )

    def actions(self) -> list[str]:
        """Audit actions, oldest first."""
        return [r.action for r in reversed(self.audit.records())]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "config"
    root.mkdir()
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    yield World(root, database, AuditLog(database), Clock(), io.StringIO())
    database.close()


@pytest.fixture
def http_server() -> Iterator[HttpCapture]:
    with HttpCapture() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    with SmtpCapture() as server:
        yield server


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1: a server context and a client that
    trusts it."""

    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return Tls(server, client)
