"""One begjæring file in, one receipt out: upload the attachments it names, wait, submit.

Used by `utlegg-gateway submit FILE.json --attachments DIR` (and `token` for the token
report). An attachment is a JSON object with `filnavn` and `uuid` anywhere in the
begjæring; its file is found in DIR by that name (`vedlegg` matches `vedlegg` or
`vedlegg.pdf`). Each distinct file is uploaded once; every object naming it gets the
new uuid. Names with path parts, links and anything but a regular file are refused
(`folders/attachments.py` decides).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from utlegg_gateway.config import Settings
from utlegg_gateway.elan.client import build_client
from utlegg_gateway.elan.maskinporten import TokenProvider
from utlegg_gateway.elan.results import (
    Accepted,
    FailedTemporarily,
    Rejected,
    SubmitResult,
    UploadedAttachment,
)
from utlegg_gateway.errors import CaseError, InputFileError
from utlegg_gateway.folders import attachments

__all__ = [
    "SubmitReceipt",
    "read_begjaering",
    "submit_begjaering",
    "submit_file",
    "token_report",
]


@dataclass(frozen=True)
class SubmitReceipt:
    """What happened to one begjæring, as the `submit` command prints it."""

    innsender_referanse: str | None
    result: SubmitResult
    # filnavn in the begjæring -> uuid it was uploaded as
    attachments: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True when ELAN holds the begjæring (newly or already)."""
        return isinstance(self.result, Accepted)

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON-ready data."""
        out: dict[str, Any] = {"innsenderReferanse": self.innsender_referanse}
        result = self.result
        if isinstance(result, Accepted):
            out |= {
                "utfall": "akseptert",
                "eksternSaksreferanse": result.ekstern_saksreferanse,
                "alleredeInnsendt": result.already_submitted,
                "korrelasjonsid": result.korrelasjonsid,
            }
        elif isinstance(result, Rejected):
            out |= {
                "utfall": "avvist",
                "kode": result.kode,
                "melding": result.melding,
                "korrelasjonsid": result.korrelasjonsid,
                "vilkaar": [
                    {"kode": r.kode, "melding": r.melding, "lokasjon": r.lokasjon}
                    for r in result.rules
                ],
            }
        else:
            out |= {
                "utfall": "feilet-midlertidig"
                if isinstance(result, FailedTemporarily)
                else "feilet-permanent",
                "kode": result.kode,
                "melding": result.melding,
                "httpStatus": result.http_status,
                "korrelasjonsid": result.korrelasjonsid,
            }
        out["vedlegg"] = [{"filnavn": k, "uuid": v} for k, v in self.attachments.items()]
        return out


def read_begjaering(path: Path) -> dict[str, Any]:
    """Read one begjæring (a JSON object) from a file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    except ValueError as exc:
        raise InputFileError(f"{path} is not valid JSON: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InputFileError(f"{path} must hold one begjæring (a JSON object)", file=str(path))
    return data


def _attachment_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("filnavn"), str) and "uuid" in node:
            yield node
        for value in node.values():
            yield from _attachment_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _attachment_objects(value)


async def submit_begjaering(
    settings: Settings,
    begjaering: dict[str, Any],
    *,
    attachments_dir: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SubmitReceipt:
    """Upload the named attachments (if a folder is given), wait until ready, submit."""
    begjaering = copy.deepcopy(begjaering)
    ref = begjaering.get("innsenderReferanse")
    ref = ref if isinstance(ref, str) else None
    # Without a folder the uuids in the file are used as they are (uploaded before).
    objects = list(_attachment_objects(begjaering)) if attachments_dir is not None else []
    files: dict[str, Path] = {}
    for obj in objects:
        assert attachments_dir is not None
        files.setdefault(obj["filnavn"], attachments.find_by_stem(attachments_dir, obj["filnavn"]))
    async with build_client(settings, transport=transport) as elan:
        uploads: dict[str, UploadedAttachment] = {}
        for filnavn, path in files.items():
            checked = await asyncio.to_thread(attachments.check, path)
            uploads[filnavn] = await elan.upload_attachment(
                attachments.Stream(checked), path.name, ref or ""
            )
        uploaded = {name: u.uuid for name, u in uploads.items()}
        for obj in objects:
            obj["uuid"] = uploaded[obj["filnavn"]]
        if uploads:
            states = await elan.wait_until_ready(list(uploads.values()), begjaering)
            bad = {name: states[u.uuid] for name, u in uploads.items() if states[u.uuid] != "ready"}
            if bad:
                detail = ", ".join(f"{name}: {state}" for name, state in bad.items())
                raise CaseError(f"attachments not usable ({detail})", case=ref)
        result = await elan.submit(begjaering)
    return SubmitReceipt(innsender_referanse=ref, result=result, attachments=uploaded)


def submit_file(
    settings: Settings,
    path: Path,
    *,
    attachments_dir: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SubmitReceipt:
    """`submit` command: read the file and run `submit_begjaering` to its end."""
    begjaering = read_begjaering(path)
    if attachments_dir is not None and not attachments_dir.is_dir():
        raise InputFileError(f"{attachments_dir} is not a folder", file=str(attachments_dir))
    return asyncio.run(
        submit_begjaering(
            settings, begjaering, attachments_dir=attachments_dir, transport=transport
        )
    )


async def _token_report(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
    # Only Maskinporten: the token report must work before ELAN's address is known.
    async with httpx.AsyncClient(
        transport=transport, timeout=settings.maskinporten.timeout_seconds
    ) as http:
        tokens = TokenProvider.from_settings(settings, http=http)
        token = await tokens.get()
    warning = tokens.certificate_warning(settings.maskinporten.certificate_warning_days)
    expiry = tokens.certificate_expiry
    return {
        "environment": token.environment,
        "scope": token.scope,
        "organisation": token.organisation,
        "systembruker": token.systembruker,
        "expires_at": token.expires_at.isoformat(timespec="seconds"),
        "token_endpoint": tokens.token_endpoint,
        "certificate_expires": expiry.isoformat(timespec="seconds") if expiry else None,
        "warning": warning,
    }


def token_report(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Any]:
    """`token` command: fetch a token and say what it is for; never the token itself."""
    return asyncio.run(_token_report(settings, transport))
