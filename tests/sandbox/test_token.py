"""The Maskinporten emulator over real HTTP: valid grants get tokens, each broken rule its error."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
import pytest

from tests.sandbox._client import HTTP, post_grant
from utlegg_gateway.sandbox import build_grant, write_credentials

SYSTEMUSER_ORG = "313367002"


@pytest.fixture(scope="module")
def foreign_credentials(tmp_path_factory: pytest.TempPathFactory, sandbox_credentials: Any) -> Any:
    """Our client id, but a certificate from a CA the sandbox has never seen."""
    return write_credentials(
        tmp_path_factory.mktemp("foreign"), client_id=sandbox_credentials.client_id
    )


def _claims(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    claims: dict[str, Any] = jwt.decode(body["access_token"], options={"verify_signature": False})
    return claims


def test_well_known_names_issuer_and_token_endpoint(sandbox: Any) -> None:
    """The metadata says the issuer (with slash) and the token endpoint the client must use."""
    meta = HTTP.get(sandbox.url + "/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == sandbox.issuer
    assert meta["token_endpoint"] == sandbox.token_endpoint
    assert "urn:altinn:systemuser" in meta["authorization_details_types_supported"]


@pytest.mark.parametrize("use", ["x5c", "kid"])
def test_valid_grant_gets_token_for_consumer(
    sandbox: Any, sandbox_credentials: Any, use: Literal["x5c", "kid"]
) -> None:
    """A grant signed with the certificate (x5c) or the registered key (kid) gets a token."""
    response = post_grant(sandbox, build_grant(sandbox_credentials, sandbox.issuer, use=use))
    claims = _claims(response)
    assert response.json()["expires_in"] == 120
    assert response.json()["scope"] == "skatteetaten:utleggsbegjaering"
    assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": "0192:312597772"}
    assert claims["client_id"] == sandbox_credentials.client_id
    assert "authorization_details" not in claims
    assert sandbox.admin.stats()["grants_issued"] == 1


def test_token_is_signed_by_the_published_key(sandbox: Any, sandbox_credentials: Any) -> None:
    """The access token verifies against the sandbox's JWKS."""
    response = post_grant(sandbox, build_grant(sandbox_credentials, sandbox.issuer))
    jwks = jwt.PyJWKClient(sandbox.url + "/jwks")
    access = response.json()["access_token"]
    key = jwks.get_signing_key_from_jwt(access)
    claims = jwt.decode(access, key.key, algorithms=["RS256"], audience="unspecified")
    assert claims["iss"] == sandbox.issuer


def test_systemuser_grant_authenticates_the_customer(
    sandbox: Any, sandbox_credentials: Any
) -> None:
    """authorization_details for a registered system user yield a token for that organisation."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, systemuser_org=SYSTEMUSER_ORG)
    claims = _claims(post_grant(sandbox, grant))
    detail = claims["authorization_details"][0]
    assert detail["type"] == "urn:altinn:systemuser"
    assert detail["systemuser_org"]["ID"] == f"0192:{SYSTEMUSER_ORG}"


def _expect(response: httpx.Response, error: str, code: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith(code)
    description: str = body["error_description"]
    return description


def test_wrong_aud_is_mp110(sandbox: Any, sandbox_credentials: Any) -> None:
    """The token endpoint URL as aud (a common mistake) is refused with MP-110."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, aud=sandbox.token_endpoint)
    text = _expect(post_grant(sandbox, grant), "invalid_grant", "MP-110")
    assert "aud" in text


def test_exp_too_far_is_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """A grant living longer than 120 s is refused."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, lifetime=121)
    text = _expect(post_grant(sandbox, grant), "invalid_grant", "MP-130")
    assert "too long lifetime" in text


def test_iat_in_the_future_is_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """iat more than 10 s ahead of the sandbox clock is refused."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, now=time.time() + 60)
    _expect(post_grant(sandbox, grant), "invalid_grant", "MP-130")


def test_iat_too_old_is_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """A grant issued 30 s ago (still unexpired) is refused: iat must be within ±10 s."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, now=time.time() - 30)
    text = _expect(post_grant(sandbox, grant), "invalid_grant", "MP-130")
    assert "10 s" in text


def test_reused_jti_is_mp012(sandbox: Any, sandbox_credentials: Any) -> None:
    """The same jti twice: the second grant is refused with MP-012 even if otherwise fresh."""
    first = build_grant(sandbox_credentials, sandbox.issuer, jti="fixed-jti")
    assert post_grant(sandbox, first).status_code == 200
    again = build_grant(sandbox_credentials, sandbox.issuer, jti="fixed-jti")
    _expect(post_grant(sandbox, again), "invalid_grant", "MP-012")


def test_untrusted_certificate_is_mp120(sandbox: Any, foreign_credentials: Any) -> None:
    """A certificate that does not chain to a trusted CA (and is not registered) is refused."""
    grant = build_grant(foreign_credentials, sandbox.issuer)
    _expect(post_grant(sandbox, grant), "invalid_grant", "MP-120")


def test_wrong_key_for_kid_is_bad_signature(
    sandbox: Any, sandbox_credentials: Any, foreign_credentials: Any
) -> None:
    """A grant naming our kid but signed with another key fails signature checking."""
    from tests.sandbox._client import load_key

    grant = build_grant(
        sandbox_credentials, sandbox.issuer, use="kid", signing_key=load_key(foreign_credentials)
    )
    _expect(post_grant(sandbox, grant), "invalid_grant", "MP-124")


def test_unknown_system_user_is_mp303(sandbox: Any, sandbox_credentials: Any) -> None:
    """A system user nobody registered for this client: invalid_altinn_customer_configuration."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, systemuser_org="999999999")
    _expect(post_grant(sandbox, grant), "invalid_altinn_customer_configuration", "MP-303")


def test_system_user_registered_later_is_accepted(sandbox: Any, sandbox_credentials: Any) -> None:
    """A system user added through the admin API works for the next grant."""
    sandbox.admin.register_system_user(sandbox_credentials.client_id, "999999999")
    grant = build_grant(sandbox_credentials, sandbox.issuer, systemuser_org="999999999")
    assert (
        _claims(post_grant(sandbox, grant))["authorization_details"][0]["systemuser_org"]["ID"]
        == "0192:999999999"
    )


def test_scope_not_registered_is_mp200(sandbox: Any, sandbox_credentials: Any) -> None:
    """A scope the client does not hold is refused as invalid_scope."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, scope="skatteetaten:annet")
    _expect(post_grant(sandbox, grant), "invalid_scope", "MP-200")


def test_undocumented_claim_is_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """A `sub` other than the client id is not what anyone documents: Invalid assertion."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, extra_claims={"sub": "x"})
    text = _expect(post_grant(sandbox, grant), "invalid_request", "MP-011")
    assert "sub" in text


def test_sub_equal_to_the_client_id_is_accepted(sandbox: Any, sandbox_credentials: Any) -> None:
    """Altinn's system-user example sends `sub` = client id: a token, as from Maskinporten."""
    grant = build_grant(
        sandbox_credentials, sandbox.issuer, extra_claims={"sub": sandbox_credentials.client_id}
    )
    response = post_grant(sandbox, grant)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


def test_other_undocumented_claims_stay_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """Only the documented form of `sub` is let through; another claim is still MP-011."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, extra_claims={"client_id": "x"})
    text = _expect(post_grant(sandbox, grant), "invalid_request", "MP-011")
    assert "client_id" in text


def test_unknown_client_is_mp100(sandbox: Any, sandbox_credentials: Any) -> None:
    """iss naming no registered client is refused with MP-100."""
    grant = build_grant(sandbox_credentials, sandbox.issuer, extra_claims={"iss": "nobody"})
    _expect(post_grant(sandbox, grant), "invalid_grant", "MP-100")


def test_wrong_grant_type_is_refused(sandbox: Any, sandbox_credentials: Any) -> None:
    """Only the jwt-bearer grant type is accepted."""
    response = HTTP.post(
        sandbox.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "assertion": build_grant(sandbox_credentials, sandbox.issuer),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_registration_file_loads_at_start(make_sandbox: Any, tmp_path: Path) -> None:
    """Credentials written to a folder are trusted by a sandbox started with that registry."""
    from utlegg_gateway.sandbox import SandboxOptions, running_sandbox

    creds = write_credentials(tmp_path / "c", orgnr="910753614")
    with running_sandbox(SandboxOptions(registries=(tmp_path / "c",))) as sb:
        claims = _claims(post_grant(sb, build_grant(creds, sb.issuer)))
    assert claims["consumer"]["ID"] == "0192:910753614"


def test_system_user_with_external_ref_needs_it_in_the_grant(
    sandbox: Any, sandbox_credentials: Any
) -> None:
    """A system user registered with an externalRef is MP-303 without it, fine with it."""
    sandbox.admin.register_system_user(
        sandbox_credentials.client_id, "923609016", external_ref="kunde-7"
    )
    bare = build_grant(sandbox_credentials, sandbox.issuer, systemuser_org="923609016")
    _expect(post_grant(sandbox, bare), "invalid_altinn_customer_configuration", "MP-303")
    ref = build_grant(
        sandbox_credentials, sandbox.issuer, systemuser_org="923609016", external_ref="kunde-7"
    )
    assert post_grant(sandbox, ref).status_code == 200
