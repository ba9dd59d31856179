"""The demo's closing report: attempts by outcome, ASR per trunk, line health, caller IDs used,
contacts closed and the workers' scaling, from the attempt records and what the run observed;
for a campaign with agents, their figures and the abandoned calls against the campaign's cap.

Pure: the records (one per attempt, as workers append them to the campaign's stream), the
agent API's statistics and the timeline come in, text goes out. Records carry masked callee
numbers only, and none is printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kdial.outcomes import Outcome, counts_against_trunk, counts_as_attempt, is_answered
from kdial.predictive import compliance_mode
from kdial_cli.demo.timeline import EJECTED, Timeline


@dataclass(frozen=True)
class Contacts:
    """Where the campaign's contacts are at the end: every one is in exactly one place."""

    total: int
    closed: int
    pending: int
    in_flight: int


@dataclass(frozen=True)
class TrunkFigures:
    name: str
    attempts: int
    answered: int
    call_loss: int

    @property
    def asr(self) -> str:
        return _percent(self.answered, self.attempts)

    @property
    def loss_rate(self) -> str:
        return _percent(self.call_loss, self.attempts)


def _counts(name: str) -> bool:
    return counts_as_attempt(Outcome(name))


def _answered(name: str) -> bool:
    return is_answered(Outcome(name))


def _loss(name: str) -> bool:
    return counts_against_trunk(Outcome(name))


def by_trunk(records: Sequence[Mapping[str, str]], trunks: Sequence[str]) -> list[TrunkFigures]:
    """Attempts, answered calls and call losses of each trunk (those of `trunks` first)."""
    names = list(trunks) + sorted({r.get("trunk", "") for r in records} - set(trunks) - {""})
    figures = []
    for name in names:
        mine = [r["outcome"] for r in records if r.get("trunk") == name and _counts(r["outcome"])]
        figures.append(
            TrunkFigures(name, len(mine), sum(map(_answered, mine)), sum(map(_loss, mine)))
        )
    return figures


@dataclass(frozen=True)
class AgentFigures:
    """An agent's (or every agent's summed) figures, as the agent API's statistics give them."""

    name: str
    calls: int
    talk_seconds: float
    wrap_up_seconds: float
    idle_seconds: float
    occupancy: float | None

    @classmethod
    def of(cls, name: str, stats: Mapping[str, Any]) -> AgentFigures:
        """From one entry of the API's `/stats` answer (`StatsView`)."""
        return cls(
            name,
            int(stats["calls"]),
            float(stats["talkSeconds"]),
            float(stats["wrapUpSeconds"]),
            float(stats["idleSeconds"]),
            None if stats.get("occupancy") is None else float(stats["occupancy"]),
        )


def agent_figures(stats: Mapping[str, Any]) -> tuple[list[AgentFigures], AgentFigures]:
    """Each agent's figures, by name, and the campaign's, from the API's `/stats` answer."""
    agents = [AgentFigures.of(name, one) for name, one in sorted(stats["agents"].items())]
    return agents, AgentFigures.of(f"all {len(agents)}", stats["campaign"])


@dataclass(frozen=True)
class Abandons:
    """Answered calls, those bridged to an agent and those abandoned, against the cap."""

    answered: int
    bridged: int
    abandoned: int
    cap_percent: int
    judged_from: int
    """Fewer answered calls say nothing of a rate: the pacer's brake waits for as many."""

    def verdict(self) -> str:
        if self.answered < self.judged_from:
            return (
                f"too few answered calls to hold against the cap of {self.cap_percent}% "
                f"(the pacer judges a rate from {self.judged_from})"
            )
        within = 100 * self.abandoned <= self.cap_percent * self.answered
        return f"{'within' if within else 'OVER'} the cap of {self.cap_percent}%"


def abandons(records: Sequence[Mapping[str, str]], cap_percent: int) -> Abandons:
    """The campaign's answered, bridged and abandoned calls over `records`; abandoned counts
    against answered, as the campaign's status and the cap count them."""
    outcomes = [r.get("outcome", "") for r in records]
    return Abandons(
        answered=sum(map(_answered, outcomes)),
        bridged=sum(bool(r.get("agent")) and bool(r.get("bridged_ms")) for r in records),
        abandoned=outcomes.count(Outcome.ABANDONED.value),
        cap_percent=cap_percent,
        judged_from=compliance_mode(cap_percent).min_answers,
    )


@dataclass(frozen=True)
class AgentReport:
    """What the report shows of a campaign's agents."""

    stats: Mapping[str, Any]
    """The agent API's `/stats` answer when dialing stopped."""
    cap_percent: int
    """The campaign's `maxAbandonPercent`."""


def report(
    campaign: str,
    *,
    records: Sequence[Mapping[str, str]] | None,
    trunks: Sequence[str],
    contacts: Contacts | None,
    timeline: Timeline,
    dialing: tuple[float, float] | None,
    staffing: AgentReport | None = None,
) -> str:
    """The report. `records` is None when the attempt records could not be read (a cluster
    whose Redis the demo cannot reach); `dialing` is when dialing started and stopped;
    `staffing` is given for a campaign with agents."""
    span = f", dialing from +{dialing[0]:.0f}s to +{dialing[1]:.0f}s" if dialing else ""
    lines = [f"kdial demo: report for campaign {campaign}{span}", ""]
    if records is None:
        lines += ["attempt records: not readable from here (give --redis-url)", ""]
    else:
        lines += _outcomes(records)
        if staffing is not None:
            lines += _agents(*agent_figures(staffing.stats))
            lines += _abandons(abandons(records, staffing.cap_percent))
        lines += _trunks(by_trunk(records, trunks))
    lines += _health(timeline, trunks)
    if records is not None:
        lines += _caller_ids(records)
    lines += _contacts(contacts)
    lines += _workers(timeline)
    return "\n".join(lines).rstrip() + "\n"


def _outcomes(records: Sequence[Mapping[str, str]]) -> list[str]:
    counts = Counter(r.get("outcome", "?") for r in records)
    lines = [f"Attempts by outcome ({len(records)} records)"]
    for outcome, count in counts.most_common():
        lines.append(f"  {outcome:<18} {count:>6}  {_percent(count, len(records)):>6}")
    return [*lines, ""]


def _agents(agents: Sequence[AgentFigures], overall: AgentFigures) -> list[str]:
    head = f"  {'AGENT':<12} {'CALLS':>5} {'TALK':>6} {'WRAP-UP':>7} {'IDLE':>6} {'OCCUPANCY':>9}"
    lines = ["Agents while the campaign dialled (the agent API's /stats)", head]
    for a in [*agents, overall]:
        occupancy = "-" if a.occupancy is None else f"{100 * a.occupancy:.1f}%"
        lines.append(
            f"  {a.name:<12} {a.calls:>5} {a.talk_seconds:>5.0f}s {a.wrap_up_seconds:>6.0f}s "
            f"{a.idle_seconds:>5.0f}s {occupancy:>9}"
        )
    return [*lines, ""]


def _abandons(figures: Abandons) -> list[str]:
    rate = _percent(figures.abandoned, figures.answered) or "-"
    return [
        "Answered calls (attempt records)",
        f"  {figures.answered} answered, {figures.bridged} bridged to an agent, "
        f"{figures.abandoned} abandoned ({rate}): {figures.verdict()}",
        "",
    ]


def _trunks(figures: Sequence[TrunkFigures]) -> list[str]:
    lines = [f"  {'TRUNK':<12} {'ATTEMPTS':>8} {'ANSWERED':>8} {'ASR':>7} {'CALL LOSS':>10}"]
    for f in figures:
        loss = f"{f.call_loss} ({f.loss_rate})" if f.attempts else "0"
        lines.append(f"  {f.name:<12} {f.attempts:>8} {f.answered:>8} {f.asr or '-':>7} {loss:>10}")
    return ["ASR per trunk (attempts that reached a carrier)", *lines, ""]


def _health(timeline: Timeline, trunks: Sequence[str]) -> list[str]:
    lines = ["Line health"]
    ejected = [(t, at) for t in trunks for at in timeline.ejections.get(t, [])]
    ejected += [
        (t, at) for t, times in timeline.ejections.items() if t not in trunks for at in times
    ]
    if not ejected:
        lines.append("  no trunk was ejected")
    for trunk, at in sorted(ejected, key=lambda item: item[1]):
        reason = next(
            (
                x.reason
                for x in timeline.transitions
                if x.trunk == trunk and x.new == EJECTED and abs(x.at - at) <= 5 and x.reason
            ),
            "",
        )
        lines.append(f"  {trunk} ejected at +{at:.0f}s" + (f" ({reason})" if reason else ""))
    for x in timeline.transitions:
        if x.old is not None and x.new != EJECTED:
            lines.append(f"  {x.trunk} {x.old} → {x.new} at +{x.at:.0f}s")
    return [*lines, ""]


def _caller_ids(records: Sequence[Mapping[str, str]]) -> list[str]:
    # The numbers a campaign presents are the business's own, listed in its CallerIdPool.
    used = Counter(r.get("caller_id") or "(none)" for r in records if _counts(r["outcome"]))
    lines = ["Caller IDs used"]
    lines += [f"  {number:<16} {count:>6} calls" for number, count in sorted(used.items())]
    return [*lines, ""]


def _contacts(contacts: Contacts | None) -> list[str]:
    if contacts is None:
        return ["Contacts", "  unknown", ""]
    return [
        "Contacts",
        f"  {contacts.total} total: {contacts.closed} closed, {contacts.pending} pending "
        f"(due again later), {contacts.in_flight} in flight",
        "",
    ]


def _workers(timeline: Timeline) -> list[str]:
    steps = [f"{old} → {new} at +{at:.0f}s" for at, old, new in timeline.scaling]
    return [
        "Workers (the Deployment's replicas, as the operator set them)",
        "  " + (", ".join(steps) if steps else "never scaled"),
        "",
    ]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else ""
