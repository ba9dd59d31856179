"""What the far end does with one call attempt, decided the moment the call is placed.

Randomness is seeded per attempt from (scenario seed, number, how many times this number was
dialled before), so the same dialling gives the same outcomes however calls interleave. A
number's callee class (invalid, switched off, machine, person) comes from a hash of seed and
number, so a number behaves the same on every attempt and every carrier within a run.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from enum import StrEnum

from kdial.numbers import InvalidNumber
from kdial.numbers import normalize as phone_number
from kdial_sim.causes import far_end_behaviour
from kdial_sim.scenario import AgentsSpec, CalleeSpec, CarrierSpec, Scenario


class CalleeClass(StrEnum):
    PERSON = "person"
    INVALID = "invalid"
    SWITCHED_OFF = "switched-off"
    MACHINE = "machine"


@dataclass(frozen=True)
class Plan:
    """The far end's script for one INVITE, in scenario seconds."""

    #: Post-dial delay: until the first response (180/183, or the refusal).
    pdd: float
    #: Why this plan (for logs and tests): answer, busy, fault, carrier-capacity, ...
    reason: str
    answer: bool = False
    #: Ringing after the first response, before answer or refusal; None rings until cancelled.
    ring: float | None = 0.0
    #: The final SIP status of a refusal.
    refusal: int | None = None
    #: Answered calls: when the callee hangs up.
    talk: float | None = None
    machine: bool = False
    early_media: bool = False
    #: The carrier stops ringing with 480 after this long (None: never).
    max_ring: float | None = None
    #: Answered calls whose application is `bridge`: the second leg's script.
    bridge: BridgePlan | None = None


@dataclass(frozen=True)
class BridgePlan:
    """The second leg of a `&bridge(...)` after the callee answered, in scenario seconds."""

    #: Ringing before the target answers; None: it never does, and the bridge fails after
    #: `BRIDGE_TIMEOUT_SECONDS` (FreeSWITCH's default call_timeout).
    ring: float | None


BRIDGE_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class CarrierConditions:
    """What the carrier is going through right now (faults, load)."""

    fail_status: int | None = None
    answer_probability: float | None = None
    over_capacity: bool = False


def attempt_rng(seed: int, number: str, attempt: int) -> random.Random:
    return random.Random(f"{seed}:attempt:{number}:{attempt}")


def callee_class(seed: int, number: str, callees: CalleeSpec) -> CalleeClass:
    digest = hashlib.sha256(f"{seed}:callee:{normalize(number)}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    for cls, share in (
        (CalleeClass.INVALID, callees.invalid),
        (CalleeClass.SWITCHED_OFF, callees.switched_off),
        (CalleeClass.MACHINE, callees.machine),
    ):
        if draw < share:
            return cls
        draw -= share
    return CalleeClass.PERSON


def normalize(number: str) -> str:
    return number.removeprefix("+")


def plan_carrier_call(
    scenario: Scenario,
    carrier: CarrierSpec,
    number: str,
    rng: random.Random,
    conditions: CarrierConditions,
    *,
    caller_id: str = "",
) -> Plan:
    pdd = carrier.pdd_seconds.sample(rng)
    refused = _refusal(scenario, carrier, number, conditions)
    if refused is not None:
        status, reason = refused
        return Plan(pdd=pdd, reason=reason, refusal=status)
    base = Plan(
        pdd=pdd, reason="", early_media=carrier.early_media, max_ring=carrier.max_ring_seconds
    )
    if callee_class(scenario.seed, number, scenario.callees) is CalleeClass.MACHINE:
        return _machine(base, scenario.callees, rng)
    marked = _marked(scenario.callees, caller_id)
    if rng.random() < answer_probability(scenario, carrier, number, conditions) * marked:
        ring, talk = carrier.ring_seconds.sample(rng), carrier.talk_seconds.sample(rng)
        return replace(base, reason="answer", answer=True, ring=ring, talk=talk)
    return _failure(base, carrier, rng)


def _marked(callees: CalleeSpec, caller_id: str) -> float:
    """How much of the usual answer rate a call showing `caller_id` gets."""
    if not callees.marked_caller_ids:
        return 1.0
    marked = {normalize(n): share for n, share in callees.marked_caller_ids.items()}
    return marked.get(normalize(caller_id), 1.0)


def _refusal(
    scenario: Scenario, carrier: CarrierSpec, number: str, conditions: CarrierConditions
) -> tuple[int, str] | None:
    """Attempts that end in an immediate refusal, whatever the dice say."""
    if conditions.fail_status is not None:
        return conditions.fail_status, "fault"
    if conditions.over_capacity:
        return 503, "carrier-capacity"
    cls = callee_class(scenario.seed, number, scenario.callees)
    if cls is CalleeClass.INVALID:
        return 404, "invalid-number"
    if cls is CalleeClass.SWITCHED_OFF:
        return 480, "switched-off"
    return None


def _machine(base: Plan, callees: CalleeSpec, rng: random.Random) -> Plan:
    ring, talk = callees.machine_ring_seconds.sample(rng), callees.machine_talk_seconds.sample(rng)
    return replace(base, reason="machine", answer=True, ring=ring, talk=talk, machine=True)


def _failure(base: Plan, carrier: CarrierSpec, rng: random.Random) -> Plan:
    kinds = list(carrier.failures)
    if not kinds:
        return replace(base, reason="noAnswer", ring=None)
    kind = rng.choices(kinds, weights=[carrier.failures[k] for k in kinds])[0]
    behaviour = far_end_behaviour(kind)
    if behaviour.sip_status is None:
        return replace(base, reason=kind, ring=None)
    ring = carrier.ring_seconds.sample(rng) if behaviour.rings_first else 0.0
    return replace(base, reason=kind, ring=ring, refusal=behaviour.sip_status)


def answer_probability(
    scenario: Scenario, carrier: CarrierSpec, number: str, conditions: CarrierConditions
) -> float:
    """A fault's override, else the longest matching prefix, else the region, else the default."""
    if conditions.answer_probability is not None:
        return conditions.answer_probability
    digits = normalize(number)
    by_prefix = _longest_prefix(digits, carrier.answer_probability_by_prefix)
    if by_prefix is not None:
        return carrier.answer_probability_by_prefix[by_prefix]
    region = _region_of(digits, scenario.regions, carrier.answer_probability_by_region)
    if region is not None:
        return carrier.answer_probability_by_region[region]
    return carrier.answer_probability


def _longest_prefix(digits: str, prefixes: dict[str, float]) -> str | None:
    matches = [p for p in prefixes if digits.startswith(normalize(p))]
    return max(matches, key=len) if matches else None


def _region_of(
    digits: str, regions: dict[str, tuple[str, ...]], wanted: dict[str, float]
) -> str | None:
    best: tuple[int, str] | None = None
    for region in wanted:
        for prefix in regions.get(region, ()):
            if digits.startswith(normalize(prefix)) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), region)
    return best[1] if best else None


def plan_agent_call(agents: AgentsSpec, name: str, rng: random.Random) -> Plan:
    """Agent phones answer after their ring time and stay up until someone hangs up."""
    ring_seconds, answers = agents.phone(name) or (agents.ring_seconds, agents.answer_probability)
    ring = ring_seconds.sample(rng)
    if rng.random() < answers:
        return Plan(pdd=0.1, reason="agent", answer=True, ring=ring, talk=None)
    return Plan(pdd=0.1, reason="agent-no-answer", ring=None)


def plan_bridge(agents: AgentsSpec, target: str, rng: random.Random) -> BridgePlan:
    """An agent phone rings and answers as the scenario says it does; any other target (an
    IVR, a queue) picks up at once."""
    phone = agents.phone(target)
    if phone is None:
        return BridgePlan(ring=0.0)
    ring_seconds, answers = phone
    ring = ring_seconds.sample(rng)
    return BridgePlan(ring=ring if rng.random() < answers else None)


def plan_unroutable() -> Plan:
    """A SIP URI no carrier claims: nothing answers, the INVITE times out (408)."""
    return Plan(pdd=1.0, reason="unroutable", refusal=408)


def callee_carrier(number: str) -> str:
    """The carrier phonenumbers names for the dialled number's range (`China Unicom`), "" for
    a number it knows none of (landlines, unknown ranges, not a number)."""
    digits = normalize(number)
    try:
        return phone_number("+" + digits, "").carrier
    except (InvalidNumber, ValueError):
        return ""
