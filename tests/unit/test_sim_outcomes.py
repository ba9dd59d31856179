"""How the simulated far end decides an attempt's outcome, and the per-second limits."""

from __future__ import annotations

from collections import Counter

from kdial_sim.outcomes import (
    CalleeClass,
    CarrierConditions,
    answer_probability,
    attempt_rng,
    callee_class,
    plan_agent_call,
    plan_bridge,
    plan_carrier_call,
)
from kdial_sim.ratelimit import RateWindow
from kdial_sim.scenario import Scenario, parse_scenario
from kdial_sim.switch import CarrierState

OK = CarrierConditions()


def scenario(**carrier: object) -> Scenario:
    return parse_scenario(
        {
            "seed": 3,
            "regions": {"north": ["8610"]},
            "callees": {"invalid": 0.1, "switchedOff": 0.1, "machine": 0.1},
            "carriers": {"c": {"pddSeconds": 1, **carrier}},
        }
    )


def test_callee_class_is_a_fixed_property_of_seed_and_number() -> None:
    callees = scenario().callees
    numbers = [f"+86138{n:06d}" for n in range(2000)]
    classes = [callee_class(3, n, callees) for n in numbers]
    assert classes == [callee_class(3, n, callees) for n in numbers]
    assert callee_class(3, "+8613800000001", callees) == callee_class(3, "8613800000001", callees)
    shares = Counter(classes)
    for cls in (CalleeClass.INVALID, CalleeClass.SWITCHED_OFF, CalleeClass.MACHINE):
        assert 140 < shares[cls] < 260, shares
    assert [callee_class(4, n, callees) for n in numbers] != classes


def test_same_attempt_same_plan_next_attempt_drawn_afresh() -> None:
    sc = scenario(answerProbability=0.5)
    spec = sc.carriers["c"]
    number = next(
        n
        for n in (f"86138{i:06d}" for i in range(99))
        if callee_class(3, n, sc.callees) is CalleeClass.PERSON
    )
    first = plan_carrier_call(sc, spec, number, attempt_rng(3, number, 1), OK)
    assert first == plan_carrier_call(sc, spec, number, attempt_rng(3, number, 1), OK)
    plans = {
        plan_carrier_call(sc, spec, number, attempt_rng(3, number, k), OK) for k in range(1, 30)
    }
    assert len(plans) > 1


def test_refusals_come_before_the_dice() -> None:
    sc = scenario(answerProbability=1)
    spec = sc.carriers["c"]
    rng = attempt_rng(3, "1", 1)
    fault = plan_carrier_call(sc, spec, "1", rng, CarrierConditions(fail_status=503))
    assert (fault.refusal, fault.reason, fault.answer) == (503, "fault", False)
    busy = plan_carrier_call(sc, spec, "1", rng, CarrierConditions(over_capacity=True))
    assert (busy.refusal, busy.reason) == (503, "carrier-capacity")
    invalid = next(
        n for n in map(str, range(500)) if callee_class(3, n, sc.callees) is CalleeClass.INVALID
    )
    assert plan_carrier_call(sc, spec, invalid, rng, OK).refusal == 404


def test_answer_probability_precedence() -> None:
    sc = scenario(
        answerProbability=0.5,
        answerProbabilityByRegion={"north": 0.2},
        answerProbabilityByPrefix={"861012": 0.9, "8610": 0.7},
    )
    spec = sc.carriers["c"]
    assert answer_probability(sc, spec, "+8610123", OK) == 0.9
    assert answer_probability(sc, spec, "8610999", OK) == 0.7
    assert answer_probability(sc, spec, "8620999", OK) == 0.5
    override = CarrierConditions(answer_probability=0.05)
    assert answer_probability(sc, spec, "8610123", override) == 0.05


def test_failure_mix_follows_its_weights() -> None:
    sc = scenario(answerProbability=0, failures={"busy": 3, "noAnswer": 1})
    spec = sc.carriers["c"]
    reasons = Counter(
        plan_carrier_call(sc, spec, f"n{k}", attempt_rng(3, f"n{k}", 1), OK).reason
        for k in range(2000)
    )
    assert 0.66 < reasons["busy"] / (reasons["busy"] + reasons["noAnswer"]) < 0.84


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_window_admits_a_burst_up_to_its_limit_then_refills() -> None:
    clock = FakeClock()
    window = RateWindow(3, clock)
    assert [window.try_acquire() for _ in range(5)] == [True, True, True, False, False]
    clock.now = 0.99
    assert not window.try_acquire()
    clock.now = 1.0
    assert [window.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert (window.last, window.peak, window.current) == (3, 3, 3)
    clock.now = 5.0
    assert window.current == 0


def test_carrier_limits_turn_attempts_into_capacity_refusals() -> None:
    clock = FakeClock()
    spec = scenario(maxConcurrentCalls=5, maxCallsPerSecond=2).carriers["c"]
    state = CarrierState(spec, RateWindow(2, clock))
    assert [state.take_attempt().over_capacity for _ in range(3)] == [False, False, True]
    clock.now = 1.0
    state.active = 5
    assert state.take_attempt().over_capacity
    state.active = 4
    assert not state.take_attempt().over_capacity


def test_calls_showing_a_marked_caller_id_are_answered_less() -> None:
    marked = parse_scenario(
        {
            "seed": 3,
            "carriers": {"c": {"pddSeconds": 1, "answerProbability": 0.5}},
            "callees": {"markedCallerIds": {"+862012345678": 0.1}},
        }
    )
    spec = marked.carriers["c"]

    def answered(caller_id: str) -> int:
        plans = [
            plan_carrier_call(
                marked, spec, f"+86138{n:08d}", attempt_rng(3, str(n), 1), OK, caller_id=caller_id
            )
            for n in range(2000)
        ]
        return sum(p.answer for p in plans)

    assert 850 < answered("862099999999") < 1150
    assert 50 < answered("862012345678") < 160, "the + is optional in either place"


def test_a_bridge_reaches_agents_as_the_scenario_says_and_anything_else_at_once() -> None:
    agents = parse_scenario(
        {"agents": {"count": 2, "ringSeconds": 3, "answerProbability": 0.25}}
    ).agents
    plans = [plan_bridge(agents, "agent2", attempt_rng(1, str(n), 1)) for n in range(1000)]
    reached = [p.ring for p in plans if p.ring is not None]
    assert 180 < len(reached) < 320 and set(reached) == {3.0}
    assert plan_bridge(agents, "ivr", attempt_rng(1, "x", 1)).ring == 0.0


def test_named_agent_phones_differ_from_the_floor_where_the_scenario_says() -> None:
    agents = parse_scenario(
        {
            "agents": {
                "count": 1,
                "ringSeconds": 1,
                "phones": {"deaf": {"answerProbability": 0}, "slow": {"ringSeconds": 4}},
            }
        }
    ).agents
    rngs = [attempt_rng(1, str(n), 1) for n in range(50)]
    assert all(not plan_agent_call(agents, "deaf", rng).answer for rng in rngs)
    slow = plan_agent_call(agents, "slow", attempt_rng(1, "x", 1))
    assert (slow.answer, slow.ring) == (True, 4.0)
    assert plan_agent_call(agents, "agent1", attempt_rng(1, "x", 1)).ring == 1.0
    assert agents.phone("agent2") is None and agents.phone("nobody") is None


def test_a_carrier_that_lost_its_route_to_one_network_fails_only_that_networks_numbers() -> None:
    state = CarrierState(scenario().carriers["c"], None)
    state.failing_networks["China Unicom"] = 502
    assert state.take_attempt("8613012345678").fail_status == 502  # China Unicom
    assert state.take_attempt("8613800138000").fail_status is None  # China Mobile
    assert state.take_attempt("862012345678").fail_status is None  # a landline
    assert state.take_attempt("not a number").fail_status is None
