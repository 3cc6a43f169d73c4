"""ELAN HTTP client and Maskinporten token client.

async with build_client(settings) as elan:
    upload = await elan.upload_attachment(pdf, "vedlegg.pdf", "IB-1")
    begjaering["vedlegg"][0]["uuid"] = upload.uuid
    await elan.wait_until_ready([upload], begjaering)   # {uuid: "ready" | "virus" | …}
    result = await elan.submit(begjaering)   # Accepted | Rejected | Failed*
"""

from __future__ import annotations

from utlegg_gateway.elan.client import ElanClient, build_client
from utlegg_gateway.elan.maskinporten import AccessToken, TokenProvider
from utlegg_gateway.elan.results import (
    Accepted,
    FailedPermanently,
    FailedTemporarily,
    Rejected,
    RuleViolation,
    SubmitResult,
    UploadedAttachment,
)

__all__ = [
    "Accepted",
    "AccessToken",
    "ElanClient",
    "FailedPermanently",
    "FailedTemporarily",
    "Rejected",
    "RuleViolation",
    "SubmitResult",
    "TokenProvider",
    "UploadedAttachment",
    "build_client",
]
