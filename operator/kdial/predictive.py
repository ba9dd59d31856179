"""A predictive campaign's pacer, live: what it sees of the campaign as the workers store it,
and the abandon budget its spec sets (pure).

The pacer (`kdial.pacing.PredictivePacer`) runs in one worker of the campaign (a Redis lease)
and looks a few times a second. It sees the agents' records (state and since when), the calls no
agent has taken yet (`CampaignKeys.paced_calls`: ringing since their claim, or answered and
waiting) and the outcomes the workers pushed since its last look (`outcome`). Wrap-up times
come from the agents' records: an agent seen in WrapUp and then in another state since a later
time wrapped up for the difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Literal

from kdial.agent_state import AgentState
from kdial.outcomes import Outcome
from kdial.pacing import REGULATORY, STRICT, ComplianceMode, Outcomes, Snapshot
from kdial.state.agents import AgentRecord

__all__ = ["RINGING", "WAITING", "compliance_mode", "outcome", "recalled", "snapshot"]

#: `paced_calls` values: a call ringing since (ms, Redis clock), and an answered call waiting.
RINGING = "ringing:"
WAITING = "waiting"

OutcomeKind = Literal["answered", "unanswered", "talk", "connected", "abandoned"]


def compliance_mode(max_abandon_percent: int) -> ComplianceMode:
    """The budget the pacer keeps for a campaign capped at `max_abandon_percent`: the
    regulators' 3% (per day, most 30-minute windows within 5%) at 3% or above, which a tighter
    cap scales down from the strict mode (every window within 3%)."""
    if max_abandon_percent >= 3:
        return REGULATORY
    scale = max_abandon_percent / 3
    return ComplianceMode(
        f"Strict{max_abandon_percent}%",
        target=STRICT.target * scale,
        brake_at=STRICT.brake_at * scale,
        release_at=STRICT.release_at * scale,
        threshold=STRICT.threshold * scale,
    )


def recalled(buckets: Mapping[int, Mapping[str, str]]) -> list[tuple[float, int, int]]:
    """The campaign's calls connected to an agent and abandoned, by minute, from the ledger's
    minute counters (`CampaignKeys.minute`, by minute since the epoch): (the minute's end in
    seconds, connected, abandoned), oldest first, for `PredictivePacer.recall`. Counted at the
    minute's end, they stay in a window a little longer, not less."""
    out = []
    for minute, bucket in sorted(buckets.items()):
        connected = int(bucket.get(f"outcome:{Outcome.ANSWERED_HUMAN.value}", 0))
        abandoned = int(bucket.get("abandoned", 0))
        if connected or abandoned:
            out.append(((minute + 1) * 60.0, connected, abandoned))
    return out


def outcome(kind: OutcomeKind, seconds: float = 0.0) -> str:
    """One outcome as a worker pushes it: ring seconds for answered and unanswered calls, talk
    seconds for a conversation that ended; connected and abandoned count one call."""
    return json.dumps({"kind": kind, "seconds": round(seconds, 3)})


def snapshot(
    now_ms: int,
    agents: Mapping[str, AgentRecord],
    calls: Iterable[str],
    outcomes: Iterable[str],
    before: Mapping[str, AgentRecord],
) -> Snapshot:
    """The campaign at `now_ms` (Redis clock) for the pacer: `agents` now and `before` (at its
    last look), the values of `paced_calls`, and the outcomes pushed since its last look."""
    times: dict[str, list[float]] = {"answered": [], "unanswered": [], "talk": []}
    counts = {"connected": 0, "abandoned": 0}
    for raw in outcomes:
        event = json.loads(raw)
        if event["kind"] in counts:
            counts[event["kind"]] += 1
        else:
            times[event["kind"]].append(float(event["seconds"]))
    ringing, waiting = [], 0
    for value in calls:
        if value.startswith(RINGING):
            ringing.append(max(0.0, (now_ms - int(value[len(RINGING) :])) / 1000))
        else:
            waiting += 1
    return Snapshot(
        now=now_ms / 1000,
        # A Reserved agent is an answered call's, which stays `waiting` until bridged: counted
        # as Ready, the two cancel out, and an agent who then fails to answer leaves both.
        ready=_count(agents, AgentState.READY) + _count(agents, AgentState.RESERVED),
        talking=_elapsed(agents, AgentState.TALKING, now_ms),
        wrapping=_elapsed(agents, AgentState.WRAP_UP, now_ms),
        ringing=ringing,
        waiting=waiting,
        outcomes=Outcomes(
            answered=times["answered"],
            unanswered=times["unanswered"],
            talks=times["talk"],
            wraps=_wraps(before, agents),
            connected=counts["connected"],
            abandoned=counts["abandoned"],
        ),
    )


def _count(agents: Mapping[str, AgentRecord], state: AgentState) -> int:
    return sum(1 for record in agents.values() if record.state is state)


def _elapsed(agents: Mapping[str, AgentRecord], state: AgentState, now_ms: int) -> list[float]:
    return [
        max(0.0, (now_ms - record.since_ms) / 1000)
        for record in agents.values()
        if record.state is state
    ]


def _wraps(before: Mapping[str, AgentRecord], now: Mapping[str, AgentRecord]) -> list[float]:
    """Wrap-ups that ended between the two looks: seconds from entering WrapUp to leaving it."""
    wraps = []
    for name, was in before.items():
        record = now.get(name)
        if was.state is AgentState.WRAP_UP and record and record.since_ms != was.since_ms:
            wraps.append((record.since_ms - was.since_ms) / 1000)
    return wraps
