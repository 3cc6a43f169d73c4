"""Several instances on one PostgreSQL journal (`cluster.enabled`): leases and takeover,
cluster-wide ELAN call slots, one follow-up poller per tenant.

Off (the default) none of this runs: one gateway per journal, held by the run lock.
"""

from __future__ import annotations

__all__: list[str] = []
