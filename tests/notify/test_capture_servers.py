"""The capture servers of alignops.testing do what the notifier tests rely on."""

from __future__ import annotations

import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from alignops.testing.http_capture import HttpCapture
from alignops.testing.smtp_capture import SmtpCapture


def _post(url: str, body: bytes, timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, data=body, headers={"X-Test": "yes"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_http_capture_records_requests_and_fails_when_told() -> None:
    with HttpCapture() as server:
        server.fail_next(2, status=503)
        statuses = [_post(server.url_for("/a?b=1"), f"{i}".encode()) for i in range(3)]
        requests = server.wait_for(3)
    assert statuses == [503, 503, 200]
    assert [(r.method, r.path, r.body, r.status) for r in requests] == [
        ("POST", "/a?b=1", b"0", 503),
        ("POST", "/a?b=1", b"1", 503),
        ("POST", "/a?b=1", b"2", 200),
    ]
    assert requests[0].header("x-test") == "yes"


def test_http_capture_stalls_past_the_client_timeout() -> None:
    with HttpCapture() as server:
        server.stall_next(1, seconds=30)
        with pytest.raises(TimeoutError):
            _post(server.url, b"x", timeout=0.2)
        assert _post(server.url, b"y") == 200
        assert [r.stalled for r in server.requests] == [True, False]


def test_wait_for_says_how_many_arrived() -> None:
    with HttpCapture() as server, pytest.raises(TimeoutError, match="0 request"):
        server.wait_for(1, timeout=0.05)


def _mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "a@example.com"
    message["To"] = "b@example.com"
    message.set_content("body line\n")
    return message


def test_smtp_capture_records_and_refuses_when_told() -> None:
    with SmtpCapture() as server:
        server.refuse_next(1, code=451, text="4.3.0 later")
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.send_message(_mail("first"))
            client.send_message(_mail("second"))
        (message,) = server.wait_for(1)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (451, b"4.3.0 later")
    assert [m.message["Subject"] for m in server.refused] == ["first"]
    assert (message.mail_from, message.rcpt_tos) == ("a@example.com", ("b@example.com",))
    assert message.message["Subject"] == "second"
    assert message.text == "body line\n"


def test_smtp_capture_requires_its_credentials() -> None:
    with SmtpCapture(credentials=("alerts", "right")) as server:
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as client,
            pytest.raises(smtplib.SMTPSenderRefused),  # no AUTH: refused
        ):
            client.send_message(_mail("x"))
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alerts", "wrong")
            client.login("alerts", "right")
            client.send_message(_mail("y"))
        (message,) = server.wait_for(1)
    assert message.login == "alerts"
    assert set(server.failed_logins) == {"alerts"}
