"""Progressive pacing: one call per Ready agent, never one more (so nothing is abandoned)."""

from __future__ import annotations

from kdial.pacing.snapshot import Snapshot

__all__ = ["ProgressivePacer", "progressive_launches"]


def progressive_launches(snapshot: Snapshot) -> int:
    """Calls to launch so that every Ready agent has one call on its way and no more: an
    answered call waiting takes a Ready agent, and each ringing call is one agent's."""
    return max(0, snapshot.ready - snapshot.waiting - len(snapshot.ringing))


class ProgressivePacer:
    """`progressive_launches` behind the `Pacer` interface (it keeps no state)."""

    def decide(self, snapshot: Snapshot) -> int:
        return progressive_launches(snapshot)
