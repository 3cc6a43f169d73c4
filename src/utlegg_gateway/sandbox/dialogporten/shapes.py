"""JSON shapes of the Dialogporten end-user API (notes §3), built from the emulator's letters."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from utlegg_gateway.sandbox.dialogporten.state import DialogportenOptions, Letter, iso, loc, uid

__all__ = ["attachment_json", "dialog_json", "problem", "transmission_json"]

ATTACHMENT_PREFIX = "/api/utleggsbegjaering/v2/meldinger"
PROCESS_PREFIX = "urn:no:skatteetaten:utlegg:sak:"
EXTENDED_TYPE_PREFIX = "urn:no:skatteetaten:utlegg:melding:"
TRANSMISSION_TYPE: dict[str, str] = {
    "rettebrev": "Request",
    "nektebrev": "Rejection",
    "varsel": "Alert",
    "vedtak": "Decision",
}


def attachment_json(letter: Letter, base: str) -> dict[str, Any]:
    return {
        "id": letter.attachment_id,
        "displayName": [{"languageCode": "nb", "value": letter.attachment_name}],
        "name": letter.attachment_name,
        "expiresAt": None,
        "urls": [
            {
                "id": letter.attachment_url_id,
                "url": f"{base}{ATTACHMENT_PREFIX}/{letter.attachment_url_id}",
                "mediaType": "application/pdf",
                "consumerType": "Api",
            }
        ],
    }


def transmission_json(letter: Letter, base: str) -> dict[str, Any]:
    return {
        "id": letter.id,
        "createdAt": iso(letter.visible_at),
        "authorizationAttribute": None,
        "isAuthorized": True,
        "extendedType": EXTENDED_TYPE_PREFIX + letter.kind,
        "externalReference": letter.ekstern_saksreferanse,
        "relatedTransmissionId": None,
        "type": TRANSMISSION_TYPE[letter.kind],
        "sender": {"actorType": "ServiceOwner", "actorId": None, "actorName": "Skatteetaten"},
        "content": {
            "title": loc(letter.title),
            "summary": loc(letter.summary),
            "contentReference": None,
        },
        "attachments": [attachment_json(letter, base)],
        "navigationalActions": [],
        "deletedAt": None,
    }


def dialog_json(
    dialog_id: str, letters: list[Letter], options: DialogportenOptions, *, detail: bool, base: str
) -> dict[str, Any]:
    first, last = letters[0], letters[-1]
    ref = first.ekstern_saksreferanse
    per_letter = options.dialog_per == "letter"
    out: dict[str, Any] = {
        "id": dialog_id,
        "org": options.org,
        "serviceResource": options.service_resource,
        "serviceResourceType": "GenericAccessResource",
        "party": first.party,
        "progress": None,
        # A dialog that is one letter says which kind in its extendedStatus.
        "extendedStatus": last.kind if per_letter else None,
        "externalReference": ref,
        "process": PROCESS_PREFIX + ref if ref else None,
        "precedingProcess": None,
        "status": "RequiresAttention",
        "createdAt": iso(first.visible_at),
        "updatedAt": iso(last.visible_at),
        "contentUpdatedAt": iso(last.visible_at),
        "dueAt": None,
        "isApiOnly": False,
        "hasUnopenedContent": True,
        "isContentSeen": False,
        "fromServiceOwnerTransmissionsCount": 0 if per_letter else len(letters),
        "fromPartyTransmissionsCount": 0,
        "seenSinceLastUpdate": [],
        "seenSinceLastContentUpdate": [],
        "endUserContext": {"revision": uid("ctx", dialog_id), "systemLabels": ["Default"]},
        "content": {"title": loc(last.title), "summary": loc(last.summary)},
    }
    if not detail:
        out["guiAttachmentCount"] = 0
        out["latestActivity"] = None
        return out
    out["revision"] = uid("revision", dialog_id, last.id)
    out["transmissions"] = [] if per_letter else [transmission_json(x, base) for x in letters]
    out["attachments"] = [attachment_json(x, base) for x in letters] if per_letter else []
    out["activities"] = []
    out["apiActions"] = []
    out["guiActions"] = []
    out["dialogToken"] = None
    return out


def problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")
