"""Signing material for the Maskinporten grant: PKCS#12, PEM certificate + key, or key + kid.

Loaded once at start; every failure is a `ConfigError` that says which setting to fix and
never quotes the secret. The certificate's expiry is kept for start-up warnings and health.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12

from utlegg_gateway.config import MaskinportenSettings
from utlegg_gateway.errors import ConfigError

__all__ = ["SigningCredentials", "load_credentials"]


@dataclass(frozen=True)
class SigningCredentials:
    """An RSA key and how Maskinporten identifies it: `x5c` (certificate) XOR `kid`."""

    private_key: RSAPrivateKey = field(repr=False)
    x5c: tuple[str, ...] | None = None
    kid: str | None = None
    certificate_not_after: datetime | None = None
    certificate_subject: str | None = None

    def __post_init__(self) -> None:
        if (self.x5c is None) == (self.kid is None):
            raise ValueError("exactly one of x5c and kid")

    @property
    def identity(self) -> str:
        """A stable, non-secret name of the key for cache keys and logs (kid or cert hash)."""
        if self.kid is not None:
            return f"kid:{self.kid}"
        assert self.x5c is not None
        digest = hashlib.sha256(base64.b64decode(self.x5c[0])).hexdigest()
        return f"x5t#S256:{digest[:16]}"

    def header(self) -> dict[str, object]:
        """The JWT header fields that name the key (the algorithm is added by the signer)."""
        if self.kid is not None:
            return {"kid": self.kid}
        assert self.x5c is not None
        return {"x5c": list(self.x5c)}

    def expires_within(self, now: datetime, days: int) -> bool:
        """True when the certificate expires within `days` of `now` (or has expired)."""
        if self.certificate_not_after is None:
            return False
        return self.certificate_not_after - now <= timedelta(days=days)


def _x5c_entry(certificate: x509.Certificate) -> str:
    # RFC 7517 §4.7: standard base64 (not base64url) of the DER bytes; leaf only, as every
    # Maskinporten client examined sends (research/maskinporten-notes.md §1.3).
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _read_bytes(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {setting} {path}: {exc.strerror}", field=f"maskinporten.{setting}"
        ) from exc


def _require_rsa(key: object, setting: str) -> RSAPrivateKey:
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(
            f"maskinporten.{setting}: the key is not RSA; Maskinporten accepts RS256/384/512 only",
            field=f"maskinporten.{setting}",
        )
    return key


def _from_certificate(certificate: x509.Certificate, key: RSAPrivateKey) -> SigningCredentials:
    return SigningCredentials(
        private_key=key,
        x5c=(_x5c_entry(certificate),),
        certificate_not_after=certificate.not_valid_after_utc,
        certificate_subject=certificate.subject.rfc4514_string(),
    )


def _load_pkcs12(settings: MaskinportenSettings) -> SigningCredentials:
    assert settings.pkcs12_file is not None
    data = _read_bytes(settings.pkcs12_file, "pkcs12_file")
    password = settings.pkcs12_password.read().encode() if settings.pkcs12_password else None
    try:
        key, certificate, _chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        raise ConfigError(
            f"cannot open PKCS#12 {settings.pkcs12_file}: wrong password or not a PKCS#12 file",
            field="maskinporten.pkcs12_password",
        ) from exc
    if key is None or certificate is None:
        raise ConfigError(
            f"PKCS#12 {settings.pkcs12_file} must hold both the private key and the certificate",
            field="maskinporten.pkcs12_file",
        )
    return _from_certificate(certificate, _require_rsa(key, "pkcs12_file"))


def _load_pem_key(settings: MaskinportenSettings) -> RSAPrivateKey:
    assert settings.private_key is not None
    pem = settings.private_key.read().encode()
    password = (
        settings.private_key_password.read().encode() if settings.private_key_password else None
    )
    try:
        key = serialization.load_pem_private_key(pem, password)
    except (ValueError, TypeError) as exc:
        # TypeError: a password was given for an unencrypted key or the reverse.
        raise ConfigError(
            "maskinporten.private_key is not a readable PEM private key "
            "(or private_key_password does not fit it)",
            field="maskinporten.private_key",
        ) from exc
    return _require_rsa(key, "private_key")


def load_credentials(settings: MaskinportenSettings) -> SigningCredentials:
    """Load the configured signing material; ConfigError when none or unreadable."""
    if settings.pkcs12_file is not None:
        return _load_pkcs12(settings)
    if settings.certificate_file is not None:
        data = _read_bytes(settings.certificate_file, "certificate_file")
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise ConfigError(
                f"certificate_file {settings.certificate_file} is not a PEM certificate",
                field="maskinporten.certificate_file",
            ) from exc
        return _from_certificate(certificate, _load_pem_key(settings))
    if settings.kid is not None:
        return SigningCredentials(private_key=_load_pem_key(settings), kid=settings.kid)
    raise ConfigError(
        "no Maskinporten signing material: set maskinporten.pkcs12_file (+ pkcs12_password), "
        "certificate_file + private_key, or kid + private_key",
        field="maskinporten",
    )
