"""Several instances on one PostgreSQL journal (`cluster.enabled`): leases and takeover,
cluster-wide ELAN call slots, one follow-up poller per tenant.

Off (the default) none of this runs: one gateway per journal, held by the run lock.
"""

from __future__ import annotations

from utlegg_gateway.cluster._poller import PollerLock
from utlegg_gateway.cluster._session import AdvisorySession, ClusterDatabase
from utlegg_gateway.cluster._slots import (
    ClusterSlotGate,
    LocalSlotGate,
    Slot,
    SlotGate,
    SlotGates,
    cluster_slot_gates,
    local_slot_gates,
)

__all__: list[str] = [
    "AdvisorySession",
    "ClusterDatabase",
    "ClusterSlotGate",
    "LocalSlotGate",
    "PollerLock",
    "Slot",
    "SlotGate",
    "SlotGates",
    "cluster_slot_gates",
    "local_slot_gates",
]
