"""SSHSIG signatures: real ssh-keygen keys, interop both ways, refusals, and fuzzing.

Every key here is made by ``/usr/bin/ssh-keygen``; when it is missing these tests fail rather
than skip, since interop with OpenSSH is the point of the module.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from alignops.approvals.sshsig import (
    SIGNATURE_NAMESPACE_APPROVAL,
    fingerprint,
    parse_public_key,
    sign,
    verify,
)
from alignops.errors import ApprovalError

SSH_KEYGEN = "/usr/bin/ssh-keygen"
NS = SIGNATURE_NAMESPACE_APPROVAL
MESSAGE = b"approve: models/fraud-scorer 1.4.2\nsha256: 9f86d081884c7d65\n"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
KEY_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa-256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa-384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa-521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "3072"],
}
KEY_CLASSES = {
    "ed25519": ed25519.Ed25519PublicKey,
    "ecdsa-256": ec.EllipticCurvePublicKey,
    "ecdsa-384": ec.EllipticCurvePublicKey,
    "ecdsa-521": ec.EllipticCurvePublicKey,
    "rsa": rsa.RSAPublicKey,
}


@dataclass(frozen=True)
class Key:
    name: str
    path: Path
    line: str

    @property
    def private(self) -> bytes:
        return self.path.read_bytes()

    @property
    def blob(self) -> bytes:
        return base64.b64decode(self.line.split()[1])


def keygen(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SSH_KEYGEN, *map(str, args)], input=stdin, capture_output=True, check=False, timeout=60
    )


def make_key(directory: Path, name: str, *extra: str, passphrase: str = "") -> Key:
    path = directory / name
    result = keygen("-q", *KEY_TYPES[name], *extra, "-N", passphrase, "-C", name, "-f", path)
    assert result.returncode == 0, result.stderr
    return Key(name, path, Path(f"{path}.pub").read_text().strip())


def wire(*fields: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(field)) + field for field in fields)


def armor(blob: bytes) -> str:
    text = base64.b64encode(blob).decode()
    return "\n".join([BEGIN, *(text[i : i + 70] for i in range(0, len(text), 70)), END, ""])


def dearmor(text: str) -> bytes:
    return base64.b64decode("".join(text.strip().removeprefix(BEGIN).removesuffix(END).split()))


def craft(
    key: Key,
    algorithm: bytes,
    *,
    hash_name: bytes = b"sha512",
    reserved: bytes = b"",
    version: int = 1,
) -> str:
    """An SSHSIG built here, field by field from PROTOCOL.sshsig, independently of the module."""
    private = serialization.load_ssh_private_key(key.private, None)
    digest = hashlib.new(hash_name.decode(), MESSAGE).digest()
    signed = b"SSHSIG" + wire(NS.encode(), reserved, hash_name, digest)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        value = private.sign(signed)
    else:
        assert isinstance(private, rsa.RSAPrivateKey)
        hash_type = {b"rsa-sha2-256": hashes.SHA256, b"rsa-sha2-512": hashes.SHA512}.get(
            algorithm, hashes.SHA1
        )
        value = private.sign(signed, padding.PKCS1v15(), hash_type())
    body = wire(key.blob, NS.encode(), reserved, hash_name, wire(algorithm, value))
    return armor(b"SSHSIG" + struct.pack(">I", version) + body)


def ssh_keygen_sign(key: Key, directory: Path, *options: str, namespace: str = NS) -> str:
    message = directory / "message"
    message.write_bytes(MESSAGE)
    result = keygen("-Y", "sign", "-n", namespace, *options, "-f", key.path, message)
    assert result.returncode == 0, result.stderr
    return Path(f"{message}.sig").read_text()


def ssh_keygen_verify(
    key: Key, directory: Path, signature: str, message: bytes = MESSAGE
) -> subprocess.CompletedProcess[bytes]:
    (directory / "allowed_signers").write_text(f"someone {key.line}\n")
    (directory / "theirs.sig").write_text(signature)
    options: list[str | Path] = ["-f", directory / "allowed_signers", "-I", "someone", "-n", NS]
    return keygen("-Y", "verify", *options, "-s", directory / "theirs.sig", stdin=message)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    directory = tmp_path_factory.mktemp("keys")
    return {name: make_key(directory, name) for name in KEY_TYPES}


@pytest.fixture(params=list(KEY_TYPES))
def key(request: pytest.FixtureRequest, keys: dict[str, Key]) -> Key:
    return keys[request.param]


def test_ssh_keygen_is_installed() -> None:
    assert Path(SSH_KEYGEN).is_file(), "these tests need OpenSSH's ssh-keygen"


def test_round_trip_returns_the_signing_key_line(key: Key, keys: dict[str, Key]) -> None:
    others = [k.line for k in keys.values() if k is not key]
    signature = sign(MESSAGE, key.private, namespace=NS)
    assert signature.startswith(BEGIN + "\n") and signature.endswith(END + "\n")
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[*others, key.line]) == key.line
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[key.line, *others]) == key.line
    windows = signature.replace("\n", "\r\n")  # an approval file checked out with CRLF
    assert verify(MESSAGE, windows, namespace=NS, allowed_keys=[key.line]) == key.line


def test_parse_public_key_gives_the_cryptography_key(key: Key) -> None:
    public = parse_public_key(key.line)
    assert isinstance(public, KEY_CLASSES[key.name])
    openssh = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert openssh.decode() == " ".join(key.line.split()[:2])


def test_ssh_keygen_signature_verifies_with_ours(key: Key, tmp_path: Path) -> None:
    signature = ssh_keygen_sign(key, tmp_path)
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[key.line]) == key.line


def test_our_signature_verifies_with_ssh_keygen(key: Key, tmp_path: Path) -> None:
    signature = sign(MESSAGE, key.private, namespace=NS)
    result = ssh_keygen_verify(key, tmp_path, signature)
    assert result.returncode == 0, result.stderr
    assert b'Good "alignops-approval" signature for someone' in result.stdout
    assert ssh_keygen_verify(key, tmp_path, signature, MESSAGE + b"!").returncode != 0


@pytest.mark.parametrize("name", ["ed25519", "rsa"])
def test_deterministic_signatures_are_byte_identical_to_ssh_keygen(
    name: str, keys: dict[str, Key], tmp_path: Path
) -> None:
    assert sign(MESSAGE, keys[name].private, namespace=NS) == ssh_keygen_sign(keys[name], tmp_path)


def test_sha256_message_hash_is_accepted(key: Key, tmp_path: Path) -> None:
    signature = ssh_keygen_sign(key, tmp_path, "-O", "hashalg=sha256")
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[key.line]) == key.line


@pytest.mark.parametrize("algorithm", [b"rsa-sha2-256", b"rsa-sha2-512"])
def test_rsa_sha2_signatures_are_accepted(
    algorithm: bytes, keys: dict[str, Key], tmp_path: Path
) -> None:
    signature = craft(keys["rsa"], algorithm)
    assert ssh_keygen_verify(keys["rsa"], tmp_path, signature).returncode == 0
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[keys["rsa"].line])


def test_the_independent_builder_agrees_with_sign(keys: dict[str, Key]) -> None:
    ours = sign(MESSAGE, keys["ed25519"].private, namespace=NS)
    assert craft(keys["ed25519"], b"ssh-ed25519") == ours


def test_tampered_message_is_refused(key: Key, tmp_path: Path) -> None:
    for signature in (sign(MESSAGE, key.private, namespace=NS), ssh_keygen_sign(key, tmp_path)):
        with pytest.raises(ApprovalError, match=r"does not match the message \(the record was"):
            verify(MESSAGE + b"!", signature, namespace=NS, allowed_keys=[key.line])


def test_wrong_namespace_names_both(key: Key, tmp_path: Path) -> None:
    expected = "signature namespace is 'git', expected 'alignops-approval'"
    for signature in (
        sign(MESSAGE, key.private, namespace="git"),
        ssh_keygen_sign(key, tmp_path, namespace="git"),
    ):
        with pytest.raises(ApprovalError) as caught:
            verify(MESSAGE, signature, namespace=NS, allowed_keys=[key.line])
        assert str(caught.value) == expected


def test_key_not_allowed_is_named_by_fingerprint(key: Key, keys: dict[str, Key]) -> None:
    others = [k.line for k in keys.values() if k is not key]
    signature = sign(MESSAGE, key.private, namespace=NS)
    expected = f"signed with key {fingerprint(key.line)} which is not one of the approver's keys"
    with pytest.raises(ApprovalError, match=re.escape(expected)):
        verify(MESSAGE, signature, namespace=NS, allowed_keys=others)
    with pytest.raises(ApprovalError, match=re.escape(expected)):
        verify(MESSAGE, signature, namespace=NS, allowed_keys=[])


def test_keys_are_compared_by_blob_not_comment(key: Key) -> None:
    kind, data = key.line.split()[:2]
    renamed = f"{kind} {data} somebody-else@elsewhere"
    signature = sign(MESSAGE, key.private, namespace=NS)
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[renamed]) == renamed
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[f"{kind} {data}"])


def test_fingerprint_matches_ssh_keygen(key: Key) -> None:
    result = keygen("-lf", f"{key.path}.pub")
    assert result.returncode == 0, result.stderr
    assert fingerprint(key.line) == result.stdout.split()[1].decode()
    assert fingerprint(key.line).startswith("SHA256:") and "=" not in fingerprint(key.line)


@pytest.mark.parametrize("name", list(KEY_TYPES))
def test_encrypted_private_key_needs_its_password(name: str, tmp_path: Path) -> None:
    key = make_key(tmp_path, name, passphrase="secret")
    signature = sign(MESSAGE, key.private, namespace=NS, password=b"secret")
    assert verify(MESSAGE, signature, namespace=NS, allowed_keys=[key.line]) == key.line
    with pytest.raises(ApprovalError, match="private key is encrypted; give its password"):
        sign(MESSAGE, key.private, namespace=NS)
    with pytest.raises(ApprovalError, match="wrong password"):
        sign(MESSAGE, key.private, namespace=NS, password=b"not-the-secret")


def test_password_for_a_plain_key_is_refused(keys: dict[str, Key]) -> None:
    with pytest.raises(ApprovalError, match="not encrypted; give no password"):
        sign(MESSAGE, keys["ed25519"].private, namespace=NS, password=b"secret")


@pytest.mark.parametrize(
    ("name", "passphrase"), [("rsa", ""), ("ecdsa-384", ""), ("rsa", "secret")]
)
def test_pem_private_keys_sign(name: str, passphrase: str, tmp_path: Path) -> None:
    key = make_key(tmp_path, name, "-m", "PEM", passphrase=passphrase)
    assert key.private.startswith(b"-----BEGIN ") and b"OPENSSH" not in key.private
    signature = sign(MESSAGE, key.private, namespace=NS, password=passphrase.encode() or None)
    assert ssh_keygen_verify(key, tmp_path, signature).returncode == 0


def test_small_rsa_keys_are_refused(tmp_path: Path) -> None:
    small = make_key(tmp_path, "rsa", "-b", "1024")
    with pytest.raises(ApprovalError, match="RSA key is 1024 bits; at least 2048 are required"):
        parse_public_key(small.line)
    with pytest.raises(ApprovalError, match="RSA key is 1024 bits"):
        sign(MESSAGE, small.private, namespace=NS)
    with pytest.raises(ApprovalError, match="allowed key 1: RSA key is 1024 bits"):
        verify(MESSAGE, "anything", namespace=NS, allowed_keys=[small.line])


def test_unsupported_key_types_are_named(keys: dict[str, Key]) -> None:
    dss = (
        "ssh-dss " + base64.b64encode(wire(b"ssh-dss", b"\x01", b"\x02", b"\x03", b"\x04")).decode()
    )
    with pytest.raises(ApprovalError, match="unsupported key type 'ssh-dss'"):
        parse_public_key(dss)
    with pytest.raises(ApprovalError, match="unsupported key type 'ssh-dss'"):
        fingerprint(dss)
    signature = dearmor(sign(MESSAGE, keys["ed25519"].private, namespace=NS))
    swapped = signature.replace(wire(keys["ed25519"].blob), wire(base64.b64decode(dss.split()[1])))
    with pytest.raises(ApprovalError, match="unsupported key type 'ssh-dss'"):
        verify(MESSAGE, armor(swapped), namespace=NS, allowed_keys=[keys["ed25519"].line])


@pytest.mark.parametrize(
    "line",
    ["", "hello", "ssh-ed25519", "ssh-ed25519 !!!notbase64", "ssh-ed25519 AAAA", "ssh-rsa ÄÖÜ"],
)
def test_not_a_key_line(line: str) -> None:
    with pytest.raises(ApprovalError, match="not an OpenSSH public key line"):
        parse_public_key(line)


def test_key_line_whose_type_disagrees_with_its_data(keys: dict[str, Key]) -> None:
    with pytest.raises(ApprovalError, match="not an OpenSSH public key line"):
        parse_public_key("ssh-rsa " + keys["ed25519"].line.split()[1])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda k: craft(k, b"ssh-rsa"), "signature algorithm 'ssh-rsa' is not allowed"),
        (lambda k: craft(k, b"rsa-sha2-512", reserved=b"x"), "non-empty reserved field"),
        (lambda k: craft(k, b"rsa-sha2-512", version=2), "version 2 is not supported"),
        (
            lambda k: craft(k, b"rsa-sha2-512", hash_name=b"sha1"),
            "unsupported hash algorithm 'sha1'",
        ),
        (lambda k: "hello", "signature is not armored SSH signature text"),
        (lambda k: f"{BEGIN}\n!!!\n{END}\n", "signature is not armored SSH signature text"),
        (lambda k: armor(b"SSHSIG\x00\x00"), "signature is truncated or malformed"),
        (lambda k: armor(b"NOTSIG" + b"\x00" * 40), "lacks the SSHSIG preamble"),
    ],
)
def test_malformed_signatures_are_refused(
    build: Callable[[Key], str], message: str, keys: dict[str, Key]
) -> None:
    with pytest.raises(ApprovalError, match=re.escape(message)):
        verify(MESSAGE, build(keys["rsa"]), namespace=NS, allowed_keys=[keys["rsa"].line])


def test_bad_arguments_are_approval_errors(keys: dict[str, Key]) -> None:
    line = keys["ed25519"].line
    signature = sign(MESSAGE, keys["ed25519"].private, namespace=NS)
    with pytest.raises(ApprovalError, match="list of OpenSSH public key lines"):
        verify(MESSAGE, signature, namespace=NS, allowed_keys=line)
    with pytest.raises(ApprovalError, match="namespace must be a non-empty string"):
        verify(MESSAGE, signature, namespace="", allowed_keys=[line])
    with pytest.raises(ApprovalError, match="namespace must be a non-empty string"):
        sign(MESSAGE, keys["ed25519"].private, namespace="")
    with pytest.raises(ApprovalError, match="not an OpenSSH or PEM private key"):
        sign(MESSAGE, b"garbage", namespace=NS)
    with pytest.raises(ApprovalError, match="private key cannot be read"):
        sign(MESSAGE, b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", namespace=NS)


# ---- properties: whatever arrives, the only failure is an ApprovalError -------------------------

KINDS = [
    b"ssh-ed25519",
    b"ecdsa-sha2-nistp256",
    b"ecdsa-sha2-nistp384",
    b"ecdsa-sha2-nistp521",
    b"ssh-rsa",
    b"ssh-dss",
]
KEY_FIELDS = st.one_of(
    st.binary(max_size=70),
    st.binary(min_size=32, max_size=32),
    st.sampled_from([b"nistp256", b"nistp384", b"nistp521", b"\x01\x00\x01", b"\x03"]),
    st.binary(min_size=1, max_size=140).map(lambda b: b"\x04" + b),
    st.binary(min_size=255, max_size=520).map(lambda b: b"\x00\xc1" + b),
)


@st.composite
def key_blobs(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(KEY_FIELDS, max_size=3))
    return wire(draw(st.sampled_from(KINDS)), *fields) + draw(st.binary(max_size=2))


@st.composite
def key_lines(draw: st.DrawFn) -> str:
    blob = draw(key_blobs())
    kind = draw(
        st.one_of(st.just(blob[4 : 4 + int.from_bytes(blob[:4], "big")]), st.sampled_from(KINDS))
    )
    comment = draw(st.text(max_size=12))
    return f"{kind.decode()} {base64.b64encode(blob).decode()} {comment}"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), key_lines()))
def test_parse_public_key_only_raises_approval_error(line: str) -> None:
    try:
        parse_public_key(line)
        fingerprint(line)
    except ApprovalError as exc:
        assert str(exc)


@pytest.fixture(scope="module")
def seeds(keys: dict[str, Key]) -> list[tuple[str, str]]:
    return [(sign(MESSAGE, k.private, namespace=NS), k.line) for k in keys.values()]


def mutate_blob(data: st.DataObject, blob: bytes) -> str:
    mutated = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if action == "flip" and pos < len(mutated):
            mutated[pos] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            mutated[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del mutated[pos : pos + data.draw(st.integers(1, 16))]
        elif action == "truncate":
            del mutated[pos:]
        else:  # a length-prefixed field, often a whole key blob, where another field was
            mutated[pos:pos] = wire(data.draw(st.one_of(key_blobs(), st.binary(max_size=40))))
    return armor(bytes(mutated))


def mutate_text(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        text = text[:pos] + data.draw(st.text(max_size=3)) + text[pos + cut :]
    return text


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_signatures_fail_only_with_approval_error(
    seeds: list[tuple[str, str]], data: st.DataObject
) -> None:
    original, line = data.draw(st.sampled_from(seeds))
    if data.draw(st.booleans()):
        candidate = mutate_blob(data, dearmor(original))
    else:
        candidate = mutate_text(data, original)
    allowed = [signer for _, signer in seeds]
    try:
        result = verify(MESSAGE, candidate, namespace=NS, allowed_keys=allowed)
    except ApprovalError as exc:
        assert str(exc)
        return
    assert result == line
    assert dearmor(candidate) == dearmor(original), "only an unchanged signature may verify"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text().map(lambda t: f"{BEGIN}\n{t}\n{END}\n"),
        st.binary().map(armor),
        st.binary().map(lambda b: armor(b"SSHSIG\x00\x00\x00\x01" + b)),
        st.lists(st.one_of(key_blobs(), st.binary(max_size=40)), max_size=6).map(
            lambda fields: armor(b"SSHSIG\x00\x00\x00\x01" + wire(*fields))
        ),
    )
)
def test_arbitrary_text_to_verify_only_raises_approval_error(
    seeds: list[tuple[str, str]], text: str
) -> None:
    with pytest.raises(ApprovalError):
        verify(MESSAGE, text, namespace=NS, allowed_keys=[signer for _, signer in seeds])
