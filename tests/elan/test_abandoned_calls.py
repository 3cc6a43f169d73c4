"""A call we gave up on keeps its slot for a grace: ELAN never sees a sixth call in flight.

The sandbox works on each status call 0.6 s, even after the client left (`work:` faults);
the client gives up after 0.3 s (long enough for the call to reach the server on a loaded
machine) and retries.
Without the grace a retry starts while the server still works on the abandoned call.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.elan.conftest import settings_for
from utlegg_gateway.elan import build_client


def _run(
    sandbox: Any, credentials: Any, tmp_path: Path, grace: float, hold: float = 1.0
) -> dict[str, Any]:
    settings = settings_for(
        sandbox,
        tmp_path,
        credentials,
        elan={
            "timeout_seconds": 0.3,
            "abandoned_call_grace_seconds": grace,
            "retry": {"attempts": 2, "initial_wait_seconds": 0.001, "max_wait_seconds": 0.01},
        },
    )
    # work: the server keeps each call in flight for `hold` even after the client left,
    # as a server still working on it would (delay: would end when it notices).
    sandbox.admin.set_faults({"status": {"probability": 1.0, "actions": [f"work:{hold:g}"]}})

    async def calls() -> None:
        async with build_client(settings) as elan:
            await asyncio.gather(
                *(elan.status("TEST_SAK_FORELAGT") for _ in range(10)), return_exceptions=True
            )

    asyncio.run(calls())
    stats: dict[str, Any] = sandbox.admin.stats()
    sandbox.admin.release_delays()
    return stats


@pytest.mark.parametrize("grace", [1.3])
def test_no_sixth_call_at_the_server_with_the_grace(
    sandbox: Any, credentials: Any, tmp_path: Path, grace: float
) -> None:
    """Every abandoned call still holds its slot while the server may work on it."""
    stats = _run(sandbox, credentials, tmp_path, grace, hold=0.6)
    assert stats["calls"]["status"] >= 10
    assert stats["rejected_concurrency"] == 0
    assert stats["max_concurrency_seen"] <= 5


def test_without_the_grace_the_server_sees_too_many(
    sandbox: Any, credentials: Any, tmp_path: Path
) -> None:
    """The control: with no grace the retries overlap the abandoned calls (the old bug).

    The server holds these calls until the test releases them, so the overlap does not
    depend on how fast a loaded machine delivers the retries."""
    stats = _run(sandbox, credentials, tmp_path, 0.0, hold=60.0)
    assert stats["rejected_concurrency"] > 0
