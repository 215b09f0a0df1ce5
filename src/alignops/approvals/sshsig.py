"""OpenSSH SSHSIG signatures, as made by ``ssh-keygen -Y sign`` and checked by ``-Y verify``.

The format (OpenSSH ``PROTOCOL.sshsig``) is small. An armored signature is base64 between an
``-----BEGIN SSH SIGNATURE-----`` line and an ``-----END SSH SIGNATURE-----`` line. Decoded, it
is this blob in SSH wire encoding (``string`` is a big-endian uint32 length, then the bytes)::

    byte[6] "SSHSIG"  uint32 version (1)  string publickey  string namespace
    string reserved   string hash_algorithm ("sha256" or "sha512")  string signature

``publickey`` is the signer's key blob, as in the base64 part of a ``.pub`` line. ``signature``
is the key type's usual SSH signature (``string`` algorithm, ``string`` value; RSA uses
``rsa-sha2-256`` or ``rsa-sha2-512``, never SHA-1) over this, again in wire encoding::

    byte[6] "SSHSIG"  string namespace  string reserved  string hash_algorithm
    string H(message)

The namespace keeps a signature made for one purpose (git commits, ``alignops-approval``) from
being accepted for another. OpenSSH always leaves ``reserved`` empty; the spec says to ignore a
non-empty one, but we refuse it, so that a valid signature cannot be altered and still verify.
Keys are compared by their wire-format blob, never by comment. Every failure, whatever the
input, is an :class:`~alignops.errors.ApprovalError` saying what to fix.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from typing import TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from alignops.errors import ApprovalError

__all__ = [
    "SIGNATURE_NAMESPACE_APPROVAL",
    "PublicKey",
    "fingerprint",
    "generate_ed25519",
    "parse_public_key",
    "sign",
    "verify",
]

SIGNATURE_NAMESPACE_APPROVAL = "alignops-approval"

PublicKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_PrivateKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_MAGIC = b"SSHSIG"
_VERSION = 1
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_WRAP = 70  # what ssh-keygen writes, so Ed25519 signatures come out byte-identical to its own
_NOT_ARMORED = "signature is not armored SSH signature text"
_NOT_KEY_LINE = "not an OpenSSH public key line"
_MISMATCH = "signature does not match the message (the record was changed after signing)"
_MIN_RSA_BITS = 2048
_MAX_MPINT_BYTES = 16384 // 8 + 1  # OpenSSH's own limit: RSA keys up to 16384 bits
_MESSAGE_HASHES = (b"sha256", b"sha512")
_CURVES = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(), "nistp521": ec.SECP521R1()}
_ECDSA_HASHES = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}  # by curve size
_RSA_HASHES = {b"rsa-sha2-256": hashes.SHA256(), b"rsa-sha2-512": hashes.SHA512()}


def _show(raw: bytes) -> str:
    """A field from untrusted input, quoted and cut short for an error message."""
    return repr(raw.decode("utf-8", "replace")[:64])


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    return _string(value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b"")


class _Reader:
    """Reads SSH wire-format fields; running short is an ApprovalError about ``what``."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data, self._pos, self._what = data, 0, what

    def _broken(self) -> ApprovalError:
        return ApprovalError(f"{self._what} is truncated or malformed")

    def take(self, size: int) -> bytes:
        if size > len(self._data) - self._pos:
            raise self._broken()
        self._pos += size
        return self._data[self._pos - size : self._pos]

    def string(self) -> bytes:
        return self.take(int.from_bytes(self.take(4), "big"))

    def mpint(self) -> int:
        raw = self.string()
        negative = bool(raw) and raw[0] >= 0x80
        padded = raw[:1] == b"\0" and (len(raw) == 1 or raw[1] < 0x80)
        if negative or padded or len(raw) > _MAX_MPINT_BYTES:
            raise self._broken()
        return int.from_bytes(raw, "big")

    def end(self) -> None:
        if self._pos != len(self._data):
            raise ApprovalError(f"{self._what} has unexpected trailing data")


def _key_from_blob(blob: bytes) -> tuple[str, PublicKey]:
    """The key type name and key of a wire-format public key blob, or ApprovalError."""
    reader = _Reader(blob, "public key")
    kind = reader.string().decode("utf-8", "replace")
    key: PublicKey
    try:
        if kind == "ssh-ed25519":
            key = ed25519.Ed25519PublicKey.from_public_bytes(reader.string())
        elif kind.startswith("ecdsa-sha2-") and kind[11:] in _CURVES:
            curve = reader.string()
            point = reader.string()
            if curve.decode("utf-8", "replace") != kind[11:] or point[:1] != b"\x04":
                raise ValueError("wrong curve name or point encoding")
            key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[kind[11:]], point)
        elif kind == "ssh-rsa":
            exponent, modulus = reader.mpint(), reader.mpint()
            if modulus.bit_length() < _MIN_RSA_BITS:
                raise ApprovalError(
                    f"RSA key is {modulus.bit_length()} bits; at least {_MIN_RSA_BITS} are required"
                )
            key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        else:
            raise ApprovalError(f"unsupported key type {kind[:64]!r}")
    except ValueError as exc:
        raise ApprovalError(f"{kind} public key is invalid: {exc}") from None
    reader.end()
    return kind, key


def _parse_line(line: str) -> tuple[bytes, PublicKey]:
    """The blob and key of an OpenSSH public key line ``TYPE BASE64 [COMMENT]``."""
    if not isinstance(line, str):
        raise ApprovalError(f"{_NOT_KEY_LINE}: expected text, got {type(line).__name__}")
    fields = line.split()
    if len(fields) < 2 or "\n" in line.strip():
        raise ApprovalError(f"{_NOT_KEY_LINE}: expected 'TYPE BASE64 [COMMENT]' on one line")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError:
        raise ApprovalError(f"{_NOT_KEY_LINE}: its key data is not base64") from None
    if not blob.startswith(_string(fields[0].encode("utf-8", "replace"))):
        raise ApprovalError(f"{_NOT_KEY_LINE}: its key data is not a {fields[0][:64]!r} key")
    return blob, _key_from_blob(blob)[1]


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def generate_ed25519(comment: str = "") -> tuple[bytes, str]:
    """A new Ed25519 key pair: the private key in OpenSSH PEM form (unencrypted) and the
    public key line, with ``comment`` appended, as ``ssh-keygen -t ed25519`` writes them."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode()} {comment}".rstrip()


def parse_public_key(line: str) -> PublicKey:
    """The key of an OpenSSH public key line such as ``ssh-ed25519 AAAA... alice@laptop``."""
    return _parse_line(line)[1]


def fingerprint(line: str) -> str:
    """``SHA256:<base64, unpadded>`` of a public key line, as ``ssh-keygen -lf`` prints it."""
    return _fingerprint(_parse_line(line)[0])


def _namespace(namespace: str) -> bytes:
    if not isinstance(namespace, str) or not namespace:
        raise ApprovalError("signature namespace must be a non-empty string")
    return namespace.encode("utf-8", "surrogateescape")


def _signed_data(namespace: bytes, hash_name: bytes, message: bytes) -> bytes:
    if not isinstance(message, bytes | bytearray):
        raise ApprovalError(f"message must be bytes, not {type(message).__name__}")
    digest = hashlib.new(hash_name.decode(), message).digest()
    return _MAGIC + _string(namespace) + _string(b"") + _string(hash_name) + _string(digest)


def _load_private_key(data: bytes, password: bytes | None) -> tuple[bytes, str, _PrivateKey]:
    """The public blob, key type name and key of an OpenSSH or PEM private key file."""
    if not isinstance(data, bytes | bytearray):
        raise ApprovalError(f"private key must be a key file's bytes, not {type(data).__name__}")
    if password is not None and not isinstance(password, bytes):
        raise ApprovalError("private key password must be bytes")
    try:
        loaded: PrivateKeyTypes
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            loaded = serialization.load_ssh_private_key(bytes(data), password)
        elif b"-----BEGIN " in data and b" PRIVATE KEY-----" in data:
            loaded = serialization.load_pem_private_key(bytes(data), password)
        else:
            raise ApprovalError("private key is not an OpenSSH or PEM private key file")
        line = loaded.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    except TypeError:  # documented: the password was missing, or given for a plain key
        if password is None:
            raise ApprovalError("private key is encrypted; give its password") from None
        raise ApprovalError("private key is not encrypted; give no password") from None
    except UnsupportedAlgorithm as exc:
        hint = " (encrypted OpenSSH keys need the 'bcrypt' package)" if "bcrypt" in str(exc) else ""
        raise ApprovalError(f"cannot load the private key: {exc}{hint}") from None
    except ValueError as exc:
        if password is not None:
            raise ApprovalError("wrong password for the private key, or it is damaged") from None
        raise ApprovalError(f"private key cannot be read: {exc}") from None
    blob = base64.b64decode(line.split()[1])
    kind = _key_from_blob(blob)[0]  # refuses unsupported types and small RSA keys
    if not isinstance(loaded, _PrivateKey):
        raise ApprovalError(f"unsupported key type {kind!r}")
    return blob, kind, loaded


def sign(
    message: bytes, private_key: bytes, *, namespace: str, password: bytes | None = None
) -> str:
    """Sign ``message`` like ``ssh-keygen -Y sign -n NAMESPACE``; returns the armored text.

    ``private_key`` is the content of an OpenSSH (``-----BEGIN OPENSSH PRIVATE KEY-----``) or
    PEM private key file. The message is hashed with SHA-512; RSA keys sign with rsa-sha2-512.
    """
    ns = _namespace(namespace)
    blob, kind, key = _load_private_key(private_key, password)
    signed = _signed_data(ns, b"sha512", message)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = _string(kind.encode()) + _string(key.sign(signed))
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(signed, ec.ECDSA(_ECDSA_HASHES[key.curve.key_size]))
        r, s = utils.decode_dss_signature(der)
        signature = _string(kind.encode()) + _string(_mpint(r) + _mpint(s))
    else:
        value = key.sign(signed, padding.PKCS1v15(), hashes.SHA512())
        signature = _string(b"rsa-sha2-512") + _string(value)
    fields = [blob, ns, b"", b"sha512", signature]
    body = _MAGIC + struct.pack(">I", _VERSION) + b"".join(_string(field) for field in fields)
    text = base64.b64encode(body).decode()
    return "\n".join([_BEGIN, *(text[i : i + _WRAP] for i in range(0, len(text), _WRAP)), _END, ""])


def _dearmor(armored: str) -> bytes:
    if not isinstance(armored, str):
        raise ApprovalError(_NOT_ARMORED)
    text = armored.strip()
    if not text.startswith(_BEGIN) or not text.endswith(_END) or len(text) < len(_BEGIN + _END):
        raise ApprovalError(_NOT_ARMORED)
    try:
        return base64.b64decode("".join(text[len(_BEGIN) : -len(_END)].split()), validate=True)
    except ValueError:
        raise ApprovalError(f"{_NOT_ARMORED}: its body is not valid base64") from None


def _check_signature(key: PublicKey, kind: str, signature: bytes, signed: bytes) -> None:
    reader = _Reader(signature, "signature value")
    algorithm, value = reader.string(), reader.string()
    reader.end()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey) and algorithm == kind.encode():
            key.verify(value, signed)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == kind.encode():
            inner = _Reader(value, "ECDSA signature value")
            r, s = inner.mpint(), inner.mpint()
            inner.end()
            hash_type = _ECDSA_HASHES[key.curve.key_size]
            key.verify(utils.encode_dss_signature(r, s), signed, ec.ECDSA(hash_type))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm in _RSA_HASHES:
            if len(value) != (key.key_size + 7) // 8:
                raise InvalidSignature
            key.verify(value, signed, padding.PKCS1v15(), _RSA_HASHES[algorithm])
        else:
            raise ApprovalError(f"signature algorithm {_show(algorithm)} is not allowed for {kind}")
    except (InvalidSignature, ValueError):
        raise ApprovalError(_MISMATCH) from None


def verify(message: bytes, armored: str, *, namespace: str, allowed_keys: Sequence[str]) -> str:
    """Check an armored SSHSIG signature of ``message`` like ``ssh-keygen -Y verify``.

    Returns the line of ``allowed_keys`` whose key made the signature; raises ApprovalError if
    the signature is malformed, is for another namespace, was made by any other key, or does not
    match the message.
    """
    ns = _namespace(namespace)
    if isinstance(allowed_keys, str | bytes) or not isinstance(allowed_keys, Sequence):
        raise ApprovalError("allowed keys must be a list of OpenSSH public key lines")
    allowed: list[tuple[bytes, str]] = []
    for number, line in enumerate(allowed_keys, start=1):
        try:
            allowed.append((_parse_line(line)[0], line))
        except ApprovalError as exc:
            raise ApprovalError(f"allowed key {number}: {exc.message}") from None
    reader = _Reader(_dearmor(armored), "signature")
    if reader.take(len(_MAGIC)) != _MAGIC:
        raise ApprovalError(f"{_NOT_ARMORED}: it lacks the SSHSIG preamble")
    version = int.from_bytes(reader.take(4), "big")
    if version != _VERSION:
        raise ApprovalError(f"signature format version {version} is not supported (only 1)")
    blob, sig_ns, reserved, hash_name, signature = [reader.string() for _ in range(5)]
    reader.end()
    if sig_ns != ns:
        raise ApprovalError(f"signature namespace is {_show(sig_ns)}, expected {namespace!r}")
    if reserved:
        raise ApprovalError("signature has a non-empty reserved field, which is not supported")
    if hash_name not in _MESSAGE_HASHES:
        raise ApprovalError(f"unsupported hash algorithm {_show(hash_name)} (use sha256 or sha512)")
    kind, key = _key_from_blob(blob)
    signer = next((line for allowed_blob, line in allowed if allowed_blob == blob), None)
    if signer is None:
        raise ApprovalError(
            f"signed with key {_fingerprint(blob)} which is not one of the approver's keys"
        )
    _check_signature(key, kind, signature, _signed_data(ns, hash_name, message))
    return signer
