"""Maskinporten against the sandbox on loopback: grants, systembruker, cache, single flight, 401."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.elan.conftest import ORGNR, settings_for
from utlegg_gateway.elan import ElanClient, TokenProvider, build_client
from utlegg_gateway.elan._credentials import load_credentials
from utlegg_gateway.elan.results import FailedPermanently
from utlegg_gateway.errors import AuthError, ElanPermanentError


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _provider(settings: Any, http: httpx.AsyncClient, **kw: Any) -> TokenProvider:
    return TokenProvider.from_settings(settings, http=http, **kw)


async def _one_token(settings: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        token = await _provider(settings, http, **kw).get()
    return token, jwt.decode(token.value, options={"verify_signature": False})


def test_token_with_pkcs12_certificate(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """A PKCS#12 certificate gets a token issued for our org, scope and x5c authentication."""
    token, claims = asyncio.run(_one_token(settings_for(sandbox, tmp_path, credentials)))
    assert claims["client_amr"] == "virksomhetssertifikat"
    assert claims["consumer"]["ID"] == f"0192:{ORGNR}"
    assert claims["scope"] == token.scope == "skatteetaten:utleggsbegjaering"
    assert token.organisation == ORGNR and not token.systembruker
    assert sandbox.admin.stats()["grants_issued"] == 1
    assert token.value not in repr(token)


def test_token_with_kid_key(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """A registered key signs with its kid and the sandbox authenticates it as private_key_jwt."""
    settings = settings_for(sandbox, tmp_path, credentials, mode="kid")
    _token, claims = asyncio.run(_one_token(settings))
    assert claims["client_amr"] == "private_key_jwt"
    assert sandbox.admin.stats()["grants_issued"] == 1


def test_systembruker_token(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """A systembruker grant yields a token carrying the customer's system user org."""
    settings = settings_for(
        sandbox, tmp_path, credentials, maskinporten={"systembruker": {"org": "313367002"}}
    )
    token, claims = asyncio.run(_one_token(settings))
    (detail,) = claims["authorization_details"]
    assert detail["type"] == "urn:altinn:systemuser"
    assert detail["systemuser_org"]["ID"] == "0192:313367002"
    assert token.organisation == "313367002" and token.systembruker


def test_unknown_systembruker_is_mp303_with_advice(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """A system user the client may not act for fails with MP-303 and systembruker advice."""
    settings = settings_for(
        sandbox, tmp_path, credentials, maskinporten={"systembruker": {"org": "999888777"}}
    )
    with pytest.raises(AuthError) as info:
        asyncio.run(_one_token(settings))
    assert info.value.mp_code == "MP-303"
    assert info.value.hint is not None and "systembruker" in info.value.hint
    assert sandbox.admin.stats()["grants_rejected"] == 1


def test_wrong_audience_is_mp110_and_not_retried(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """A grant with the wrong aud is refused once (no retry) with advice about aud."""
    settings = settings_for(
        sandbox,
        tmp_path,
        credentials,
        maskinporten={"issuer": "https://test.maskinporten.no/"},
    )
    with pytest.raises(AuthError) as info:
        asyncio.run(_one_token(settings))
    assert info.value.mp_code == "MP-110"
    assert info.value.hint is not None and "aud" in info.value.hint
    assert sandbox.admin.stats()["calls"].get("token", 0) == 1


def test_cache_and_single_flight_under_20_callers(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """Twenty concurrent callers share one grant; later callers reuse the cached token."""
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> list[str]:
        async with httpx.AsyncClient() as http:
            provider = _provider(settings, http)
            tokens = await asyncio.gather(*(provider.get() for _ in range(20)))
            again = await provider.get()
        return [t.value for t in tokens] + [again.value]

    values = asyncio.run(run())
    assert len(set(values)) == 1
    assert sandbox.admin.stats()["grants_issued"] == 1


def test_refresh_after_expiry(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """Past expires_in minus the margin a new grant is sent; before it the token is reused."""
    settings = settings_for(sandbox, tmp_path, credentials)
    clock = ManualClock()

    async def run() -> list[str]:
        async with httpx.AsyncClient() as http:
            provider = _provider(settings, http, clock=clock)
            first = await provider.get()
            clock.now += 120 - 30 - 1  # the sandbox's 120 s token, 30 s margin: still fresh
            second = await provider.get()
            clock.now += 2
            third = await provider.get()
        return [first.value, second.value, third.value]

    first, second, third = asyncio.run(run())
    assert first == second != third
    assert sandbox.admin.stats()["grants_issued"] == 2


def test_each_grant_has_a_fresh_jti(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """Grants are never reused: forcing three fetches gives three accepted grants (no MP-012)."""
    settings = settings_for(sandbox, tmp_path, credentials)

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            provider = _provider(settings, http)
            for _ in range(3):
                provider.invalidate(await provider.get())

    asyncio.run(run())
    stats = sandbox.admin.stats()
    assert stats["grants_issued"] == 3 and stats["grants_rejected"] == 0


def test_401_refreshes_exactly_once_then_succeeds(credentials: Any, tmp_path: Path) -> None:
    """A token the API no longer accepts is evicted once, a new one fetched, the call repeated."""
    from utlegg_gateway.sandbox.options import SandboxClock, SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    wall = [time.time()]
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0)
    with running_sandbox(
        options, credentials=[credentials], clock=SandboxClock(source=lambda: wall[0])
    ) as sb:
        settings = settings_for(sb, tmp_path, credentials)

        async def run() -> dict[str, Any]:
            async with httpx.AsyncClient() as http:
                # Our cache clock stands still, so only the server can tell the token is stale.
                tokens = _provider(settings, http, clock=ManualClock(), wall_clock=lambda: wall[0])
                elan = ElanClient(
                    settings.elan, base_url=sb.elan_base_url, tokens=tokens, http=http
                )
                await elan.status("TEST_SAK_OPPRETTET")
                wall[0] += 600  # ten minutes on: the sandbox sees the cached token expired
                return await elan.status("TEST_SAK_OPPRETTET")

        body = asyncio.run(run())
        stats = sb.admin.stats()
    assert body["saksstatus"] == "sakOpprettet"
    assert stats["grants_issued"] == 2
    assert stats["answers"] == {"status:200": 2, "status:401": 1}


def test_a_call_waiting_for_a_slot_takes_its_token_when_it_gets_one(
    credentials: Any, tmp_path: Path
) -> None:
    """A call queued behind the 5 slots longer than the token lives sends a fresh token,
    not the one that was current when it was queued (which ELAN would answer 401, a wasted
    call in a slot). Seen at scale: a 10,000-case status round queues calls for minutes."""
    from utlegg_gateway.sandbox.options import SandboxClock, SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    wall = [time.time()]
    cache_clock = ManualClock()
    options = SandboxOptions(model_version="1.1", scanning_seconds=0.0)
    with running_sandbox(
        options, credentials=[credentials], clock=SandboxClock(source=lambda: wall[0])
    ) as sb:
        settings = settings_for(sb, tmp_path, credentials)
        sb.admin.set_faults({"status": {"sequence": ["delay:60"] * 5}})

        def five_in_flight() -> None:
            end = time.monotonic() + 30
            while sum(sb.admin.stats()["in_flight"].values()) < 5:
                assert time.monotonic() < end, "5 calls never got in flight"
                time.sleep(0.01)

        async def run() -> list[dict[str, Any]]:
            async with httpx.AsyncClient() as http:
                tokens = _provider(settings, http, clock=cache_clock, wall_clock=lambda: wall[0])
                elan = ElanClient(
                    settings.elan, base_url=sb.elan_base_url, tokens=tokens, http=http
                )
                calls = [asyncio.create_task(elan.status("TEST_SAK_OPPRETTET")) for _ in range(10)]
                await asyncio.to_thread(five_in_flight)  # five held, five queued
                wall[0] += 600  # the token all ten started with is now expired …
                cache_clock.now += 600  # … on both sides
                await asyncio.to_thread(sb.admin.release_delays)
                return await asyncio.gather(*calls)

        bodies = asyncio.run(run())
        stats = sb.admin.stats()
    assert [b["saksstatus"] for b in bodies] == ["sakOpprettet"] * 10
    assert stats["answers"] == {"status:200": 10}  # no 401, no repeated call
    assert stats["grants_issued"] == 2


def test_persistent_401_refreshes_only_once(sandbox: Any, credentials: Any, tmp_path: Path) -> None:
    """When the API keeps answering 401 the client refreshes once, then gives up (no loop)."""
    from utlegg_gateway.sandbox.options import SandboxOptions
    from utlegg_gateway.sandbox.server import running_sandbox

    # Tokens from this sandbox's Maskinporten, ELAN of another sandbox: never accepted there.
    with running_sandbox(SandboxOptions(model_version="1.1")) as other:
        settings = settings_for(
            sandbox, tmp_path, credentials, elan={"base_url": other.elan_base_url}
        )

        async def run() -> Any:
            async with build_client(settings) as elan:
                try:
                    await elan.status("TEST_SAK_OPPRETTET")
                except ElanPermanentError as exc:
                    return exc, await elan.submit({"innsenderReferanse": "x"})
            raise AssertionError("expected 401")

        error, result = asyncio.run(run())
        other_stats = other.admin.stats()
    assert error.http_status == 401 and error.kode == "XXX-004" and error.korrelasjonsid
    assert isinstance(result, FailedPermanently) and result.http_status == 401
    assert other_stats["answers"] == {"status:401": 2, "submit:401": 2}
    assert sandbox.admin.stats()["grants_issued"] == 3


def test_credentials_loaded_from_sandbox_files(credentials: Any, tmp_path: Path) -> None:
    """The sandbox's PKCS#12 (with CA chain inside) loads; only the leaf goes into x5c."""
    from utlegg_gateway.config import MaskinportenSettings

    creds = load_credentials(
        MaskinportenSettings(
            client_id="c",
            pkcs12_file=credentials.pkcs12_file,
            # pydantic builds the Secret from the shape the YAML gives it
            pkcs12_password={"file": credentials.password_file},  # type: ignore[arg-type]
        )
    )
    assert creds.x5c is not None and len(creds.x5c) == 1


def test_token_endpoint_503_is_retried_with_fresh_grants(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """Two 503s from the token endpoint are retried (a new grant each time), then a token comes."""
    settings = settings_for(sandbox, tmp_path, credentials)
    sandbox.admin.set_faults({"token": {"sequence": ["503", "503"]}})
    token, _claims = asyncio.run(_one_token(settings, sleep=_no_wait))
    stats = sandbox.admin.stats()
    assert token.value
    assert stats["calls"]["token"] == 3 and stats["grants_issued"] == 1


async def _no_wait(_seconds: float) -> None:
    """Backoff sleep for tests: the retry loop runs, the waiting does not."""


def test_expiring_certificate_warns_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate expiring in 10 days logs a warning at start-up and reports it for health."""
    from tests.elan._keys import write_pkcs12
    from utlegg_gateway.config import Settings

    (tmp_path / "pw").write_text("x")
    write_pkcs12(tmp_path, "x", days_valid=10)
    settings = Settings.model_validate(
        {
            "maskinporten": {
                "client_id": "c",
                "pkcs12_file": "client.p12",
                "pkcs12_password": {"file": "pw"},
            }
        },
        context={"base_dir": tmp_path},
    )

    async def build() -> TokenProvider:
        async with httpx.AsyncClient() as http:
            return TokenProvider.from_settings(settings, http=http)

    with caplog.at_level("WARNING", logger="utlegg_gateway.elan.maskinporten"):
        provider = asyncio.run(build())
    assert any("expires on" in r.getMessage() for r in caplog.records)
    warning = provider.certificate_warning(30)
    assert warning is not None and "renew" in warning
    assert provider.certificate_warning(5) is None
    assert provider.certificate_expiry is not None


def test_token_endpoint_read_from_issuer_metadata(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """With only the issuer configured, the token endpoint comes from its well-known metadata."""
    settings = settings_for(sandbox, tmp_path, credentials, maskinporten={"token_endpoint": None})

    async def run() -> tuple[str | None, Any]:
        async with httpx.AsyncClient() as http:
            provider = _provider(settings, http)
            before = provider.token_endpoint
            token = await provider.get()
            assert provider.token_endpoint == sandbox.token_endpoint
            return before, token

    before, token = asyncio.run(run())
    assert before is None and token.value
    assert sandbox.admin.stats()["grants_issued"] == 1


def test_issuer_without_metadata_is_an_auth_error(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """An issuer that serves no metadata fails with advice to set token_endpoint; no grant sent."""
    settings = settings_for(
        sandbox,
        tmp_path,
        credentials,
        maskinporten={"issuer": sandbox.url + "/nothing/", "token_endpoint": None},
    )
    with pytest.raises(AuthError) as info:
        asyncio.run(_one_token(settings))
    assert info.value.hint is not None and "token_endpoint" in info.value.hint
    assert sandbox.admin.stats()["calls"].get("token", 0) == 0
