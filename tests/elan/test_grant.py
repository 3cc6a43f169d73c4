"""The Maskinporten grant and signing material: pure functions, real keys and files."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509

from tests.elan._keys import pem_certificate, pem_key, rsa_key, write_pkcs12
from utlegg_gateway.config import MaskinportenSettings, SystembrukerSettings
from utlegg_gateway.elan._credentials import load_credentials
from utlegg_gateway.elan.maskinporten import (
    build_grant_claims,
    cache_margin,
    error_from_token_response,
    sign_grant,
)
from utlegg_gateway.errors import ConfigError

ISSUER = "https://test.maskinporten.no/"


def _settings(tmp_path: Path, **kw: object) -> MaskinportenSettings:
    return MaskinportenSettings.model_validate(kw, context={"base_dir": tmp_path})


def test_claims_are_only_the_documented_ones() -> None:
    """A plain grant has exactly aud, iss, scope, iat, exp = iat + 120, jti: no sub/resource."""
    claims = build_grant_claims(
        issuer=ISSUER,
        client_id="c-1",
        scope="skatteetaten:utleggsbegjaering",
        issued_at=1000,
        jti="j",
    )
    assert claims == {
        "aud": ISSUER,
        "iss": "c-1",
        "scope": "skatteetaten:utleggsbegjaering",
        "iat": 1000,
        "exp": 1120,
        "jti": "j",
    }


def test_systembruker_and_consumer_org_claims() -> None:
    """Systembruker: authorization_details with 0192:ORGNR + externalRef; consumer_org plain."""
    claims = build_grant_claims(
        issuer=ISSUER,
        client_id="c-1",
        scope="s",
        issued_at=1,
        jti="j",
        consumer_org="910753614",
        systembruker=SystembrukerSettings(org="313367002", external_ref="kunde-7"),
    )
    assert claims["consumer_org"] == "910753614"
    assert claims["authorization_details"] == [
        {
            "type": "urn:altinn:systemuser",
            "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": "0192:313367002"},
            "externalRef": "kunde-7",
        }
    ]
    assert "resource" not in claims and "sub" not in claims


def test_pkcs12_grant_has_x5c_leaf_and_verifies(tmp_path: Path) -> None:
    """PKCS#12 gives an x5c header (leaf, standard base64 DER), no kid, no typ; it verifies."""
    (tmp_path / "pw").write_text("hemmelig\n")
    p12 = write_pkcs12(tmp_path, "hemmelig")
    creds = load_credentials(
        _settings(tmp_path, pkcs12_file=p12.name, pkcs12_password={"file": "pw"})
    )
    token = sign_grant({"iss": "c", "aud": ISSUER}, creds)
    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "x5c"}
    assert header["alg"] == "RS256"
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    decoded = jwt.decode(token, cert.public_key(), algorithms=["RS256"], audience=ISSUER)  # type: ignore[arg-type]  # the test cert is RSA; pyjwt's stub wants its key union
    assert decoded["iss"] == "c"
    assert creds.certificate_not_after is not None


def test_kid_grant_from_env_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key given by environment variable signs with a kid header and no x5c."""
    monkeypatch.setenv("MP_KEY", pem_key().decode())
    creds = load_credentials(_settings(tmp_path, kid="my-kid", private_key={"env": "MP_KEY"}))
    token = sign_grant({"iss": "c"}, creds)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "my-kid"}
    assert jwt.decode(token, rsa_key().public_key(), algorithms=["RS256"])["iss"] == "c"
    assert creds.certificate_not_after is None


def test_pem_certificate_and_encrypted_key(tmp_path: Path) -> None:
    """A PEM certificate with a password-protected PEM key loads into x5c credentials."""
    (tmp_path / "cert.pem").write_bytes(pem_certificate())
    (tmp_path / "key.pem").write_bytes(pem_key("pw2"))
    (tmp_path / "keypw").write_text("pw2")
    creds = load_credentials(
        _settings(
            tmp_path,
            certificate_file="cert.pem",
            private_key={"file": "key.pem"},
            private_key_password={"file": "keypw"},
        )
    )
    assert creds.x5c is not None and creds.kid is None
    assert creds.identity.startswith("x5t#S256:")


def test_wrong_pkcs12_password_is_a_config_error(tmp_path: Path) -> None:
    """A wrong PKCS#12 password is a ConfigError naming the setting, never quoting the password."""
    (tmp_path / "pw").write_text("feil-passord")
    p12 = write_pkcs12(tmp_path, "riktig")
    with pytest.raises(ConfigError) as info:
        load_credentials(_settings(tmp_path, pkcs12_file=str(p12), pkcs12_password={"file": "pw"}))
    assert info.value.field == "maskinporten.pkcs12_password"
    assert "feil-passord" not in str(info.value)


def test_no_signing_material_is_a_config_error(tmp_path: Path) -> None:
    """Without any signing setting, loading says which settings to give."""
    with pytest.raises(ConfigError, match="pkcs12_file"):
        load_credentials(_settings(tmp_path))


def test_two_signing_methods_are_refused(tmp_path: Path) -> None:
    """Giving both a PKCS#12 file and a kid is refused at validation."""
    with pytest.raises(ValueError, match="one of"):
        _settings(tmp_path, pkcs12_file="a.p12", kid="k", private_key={"env": "X"})


def test_certificate_expiry_window(tmp_path: Path) -> None:
    """A certificate valid 10 more days is within the 30-day warning window, not the 5-day one."""
    (tmp_path / "pw").write_text("x")
    p12 = write_pkcs12(tmp_path, "x", days_valid=10)
    creds = load_credentials(
        _settings(tmp_path, pkcs12_file=str(p12), pkcs12_password={"file": "pw"})
    )
    now = datetime.now(UTC)
    assert creds.expires_within(now, 30)
    assert not creds.expires_within(now, 5)
    assert creds.expires_within(now + timedelta(days=11), 0)


@pytest.mark.parametrize(
    ("description", "advice"),
    [
        ("MP-110 Invalid assertion. Invalid JWT claim aud", "wrong aud"),
        ("MP-130 JWT is expired", "clock"),
        ("Issue time is after now", "clock"),
        ("MP-100 Client not found", "unknown client"),
        ("MP-124 Invalid JWT signature", "expired certificate"),
        ("MP-251 Consumer 1 has not delegated access", "missing delegation"),
    ],
)
def test_token_errors_carry_code_and_advice(description: str, advice: str) -> None:
    """Each Maskinporten error maps to an AuthError with the MP code and a matching hint."""
    error = error_from_token_response(
        400, {"error": "invalid_grant", "error_description": description}
    )
    assert error.hint is not None and advice in error.hint
    assert error.kode == "invalid_grant"
    assert error.http_status == 400
    if description.startswith("MP-"):
        assert error.mp_code == description[:6]


def test_cache_margin_fits_short_tokens() -> None:
    """The refresh margin is 30 s for long tokens and a quarter of very short ones."""
    assert cache_margin(599) == 30
    assert cache_margin(120) == 30
    assert cache_margin(40) == 10
