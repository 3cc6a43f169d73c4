"""ELAN HTTP client and Maskinporten token client.

async with build_client(settings) as elan:
    uuid = await elan.upload_attachment(pdf, "vedlegg.pdf", "IB-1")
    await elan.wait_until_ready(uuid)
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
    "build_client",
]
