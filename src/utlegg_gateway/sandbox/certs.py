"""Test credentials: a CA, a client certificate (PKCS#12 + password file), a key with a `kid`.

`write_credentials` gives a new user (or a test) everything needed to talk to the sandbox
the way the gateway talks to Maskinporten, plus the registration file the sandbox loads
(`utlegg-gateway sandbox --registry DIR`). Nothing here is fit for production: the CA is
a throwaway made on the spot.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from utlegg_gateway.sandbox.options import ELAN_SCOPE

__all__ = [
    "DIALOGPORTEN_SCOPE",
    "Credentials",
    "cert_orgnr",
    "kid_of",
    "make_ca",
    "make_client_cert",
    "new_rsa_key",
    "write_credentials",
]

DIALOGPORTEN_SCOPE = "digdir:dialogporten"
_KEY_SIZE = 2048


@dataclass(frozen=True)
class Credentials:
    """Where `write_credentials` put each file, and the identity they belong to."""

    client_id: str
    orgnr: str
    pkcs12_file: Path
    password_file: Path
    key_file: Path  # PEM RSA private key registered under `kid` (the kid alternative to x5c)
    kid: str
    cert_pem_file: Path
    ca_file: Path
    registration_file: Path
    systemuser_orgs: tuple[str, ...] = ()

    def registration(self) -> dict[str, Any]:
        """The registration as the sandbox admin API takes it."""
        data: dict[str, Any] = json.loads(self.registration_file.read_text(encoding="utf-8"))
        return data


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (Maskinporten takes RS256/384/512 only)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def kid_of(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint of an RSA public key: a stable, unique `kid`."""
    numbers = public_key.public_numbers()

    def b64(n: int) -> str:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps(
        {"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_ca(
    name: str = "utlegg-gateway sandbox test CA", *, days: int = 3650
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed CA certificate for the sandbox to trust."""
    key = new_rsa_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_client_cert(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    orgnr: str,
    *,
    name: str = "SANDBOX TEST VIRKSOMHET",
    days: int = 365,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A virksomhetssertifikat look-alike: orgnr in `serialNumber` and `organizationIdentifier`."""
    key = new_rsa_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} TEST"),
            # Older Buypass/Commfides certificates carry the orgnr as serialNumber,
            # SEID 2.0 ones as organizationIdentifier "NTRNO-<orgnr>": we set both.
            x509.NameAttribute(NameOID.SERIAL_NUMBER, orgnr),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRNO-{orgnr}"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def cert_orgnr(cert: x509.Certificate) -> str | None:
    """The organisation number a business certificate is issued to, if it names one."""
    for oid in (NameOID.ORGANIZATION_IDENTIFIER, NameOID.SERIAL_NUMBER):
        for attr in cert.subject.get_attributes_for_oid(oid):
            value = attr.value if isinstance(attr.value, str) else attr.value.decode()
            digits = value.removeprefix("NTRNO-")
            if len(digits) == 9 and digits.isdigit():
                return digits
    return None


def _write_private(path: Path, data: bytes) -> None:
    # Keys and passwords are created 0600 from the start, never world-readable for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def write_credentials(
    directory: Path,
    *,
    orgnr: str = "312597772",
    client_id: str | None = None,
    systemuser_orgs: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (ELAN_SCOPE, DIALOGPORTEN_SCOPE),
    password: str | None = None,
) -> Credentials:
    """Write CA, client certificate (PKCS#12 + password file), a kid key and a registration.

    Files in `directory`: `ca.pem`, `client.p12`, `client.p12.password`, `client-cert.pem`,
    `client-key.pem` (the registered key; its kid is in the registration), `registration.json`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    client_id = client_id or f"sandbox-{orgnr}-{uuid.uuid4().hex[:8]}"
    password = password or secrets.token_urlsafe(18)
    ca_key, ca_cert = make_ca()
    cert_key, cert = make_client_cert(ca_key, ca_cert, orgnr)
    kid_key = new_rsa_key()
    kid = kid_of(kid_key.public_key())

    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_pem_file = directory / "client-cert.pem"
    cert_pem_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs12_file = directory / "client.p12"
    _write_private(
        pkcs12_file,
        pkcs12.serialize_key_and_certificates(
            name=b"sandbox-client",
            key=cert_key,
            cert=cert,
            cas=[ca_cert],
            encryption_algorithm=serialization.BestAvailableEncryption(password.encode()),
        ),
    )
    password_file = directory / "client.p12.password"
    _write_private(password_file, password.encode() + b"\n")
    key_file = directory / "client-key.pem"
    _write_private(key_file, _pem_key(kid_key))

    registration = {
        "client_id": client_id,
        "orgnr": orgnr,
        "scopes": list(scopes),
        "keys": [{"kid": kid, "public_key_pem": _pem_public(kid_key.public_key())}],
        "trusted_cas": [ca_cert.public_bytes(serialization.Encoding.PEM).decode()],
        "systemusers": [{"orgnr": org} for org in systemuser_orgs],
    }
    registration_file = directory / "registration.json"
    registration_file.write_text(json.dumps(registration, indent=2) + "\n", encoding="utf-8")
    return Credentials(
        client_id=client_id,
        orgnr=orgnr,
        pkcs12_file=pkcs12_file,
        password_file=password_file,
        key_file=key_file,
        kid=kid,
        cert_pem_file=cert_pem_file,
        ca_file=ca_file,
        registration_file=registration_file,
        systemuser_orgs=tuple(systemuser_orgs),
    )
