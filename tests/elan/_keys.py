"""Throwaway RSA keys and self-signed certificates for the pure tests (no sandbox needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per test process: generating keys is the slow part."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey, *, days_valid: int = 365) -> x509.Certificate:
    """A self-signed certificate for an organisation, valid from yesterday."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST AS"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "312597772"),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )


def write_pkcs12(directory: Path, password: str, *, days_valid: int = 365) -> Path:
    """A PKCS#12 file holding the key and its certificate, protected by `password`."""
    key = rsa_key()
    data = pkcs12.serialize_key_and_certificates(
        b"client",
        key,
        certificate(key, days_valid=days_valid),
        None,
        serialization.BestAvailableEncryption(password.encode()),
    )
    path = directory / "client.p12"
    path.write_bytes(data)
    return path


def pem_key(password: str | None = None) -> bytes:
    """The key as PKCS#8 PEM, optionally encrypted."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return rsa_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def pem_certificate(*, days_valid: int = 365) -> bytes:
    """The certificate as PEM."""
    return certificate(rsa_key(), days_valid=days_valid).public_bytes(serialization.Encoding.PEM)
