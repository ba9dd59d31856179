"""The trunk health state machine (kdial.routing.health)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.outcomes import Outcome
from kdial.routing.calibration import alarm_rate, attempts_per_evaluation
from kdial.routing.detectors import Cusum
from kdial.routing.health import (
    CALIBRATED_RATES,
    DEFAULT_TUNING,
    EVALUATION_SECONDS,
    Calibration,
    Observation,
    PoolHealth,
    Transition,
    eject_seconds,
    evaluate,
    initial,
    sync_trunks,
    tally,
    thresholds,
)

H, D, E, P = TrunkState.HEALTHY, TrunkState.DEGRADED, TrunkState.EJECTED, TrunkState.PROBING
POLICY = HealthPolicy()
HEALTHY = (0.30, 0.02)  # answer rate, call-loss rate
# The healthy call loss by cause class: every lost attempt has one (shares of the loss).
LOSS_MIX = ((CauseClass.CONGESTION, 0.5), (CauseClass.TIMEOUT, 0.25), (CauseClass.OTHER, 0.25))
LINE_FAILURES = {CauseClass.CONGESTION, CauseClass.TIMEOUT, CauseClass.SERVER_ERROR}


class Sim:
    """A pool fed with Bernoulli outcomes, one attempt per trunk per evaluation at 5 calls/s."""

    def __init__(self, names: str = "abc", seed: int = 1, policy: HealthPolicy = POLICY) -> None:
        self.rng = random.Random(seed)
        self.policy = policy
        self.now = 1000.0
        self.pool: PoolHealth = initial(list(names), self.now)
        self.rates = dict.fromkeys(names, HEALTHY)
        self.failing: dict[str, tuple[CauseClass, float]] = {}
        """Trunks that fail this share of their attempts with this cause, on top of `rates`."""
        self.log: list[Transition] = []

    def observe(
        self,
        answer: float,
        loss: float,
        attempts: int = 1,
        failing: tuple[CauseClass, float] | None = None,
    ) -> Observation:
        answered = lost = risk = 0
        causes = dict.fromkeys(CLASSES, 0)
        for _ in range(attempts):
            if failing is not None and self.rng.random() < failing[1]:
                cause = failing[0]
                causes[cause] += 1
                lost += cause in LINE_FAILURES or cause is CauseClass.OTHER
                risk += cause is CauseClass.FORBIDDEN
                continue
            u = self.rng.random()
            answered += u < answer
            if answer <= u < answer + loss:
                lost += 1
                causes[_loss_cause((u - answer) / loss)] += 1
        return Observation(attempts, answered, lost, risk, 0, tuple(causes.values()))

    def run(self, ticks: int, dt: float = 0.2, traffic: dict[str, int] | None = None) -> None:
        for _ in range(ticks):
            self.now += dt
            obs = {}
            for name, (answer, loss) in self.rates.items():
                state = self.state(name)
                n = 0 if state is E else (traffic or {}).get(name, 1)
                obs[name] = self.observe(answer, loss, n, self.failing.get(name))
            self.pool, transitions = evaluate(self.pool, obs, self.policy, self.now)
            self.log.extend(transitions)
            if any(t.target is E for t in transitions):
                assert any(t.in_service for t in self.pool.trunks), "one trunk always serves"

    def arrive(self, seconds: float, cps: float, dt: float = EVALUATION_SECONDS) -> None:
        """``seconds`` of calls arriving at random, ``cps`` per trunk, evaluated at the
        operator's cadence: at 1 call/s most evaluations see no call of a given trunk."""
        for _ in range(round(seconds / dt)):
            self.now += dt
            obs = {}
            for name, (answer, loss) in self.rates.items():
                n = 0 if self.state(name) is E else int(self.rng.random() < cps * dt)
                obs[name] = self.observe(answer, loss, n, self.failing.get(name))
            self.pool, transitions = evaluate(self.pool, obs, self.policy, self.now)
            self.log.extend(transitions)

    def state(self, name: str) -> TrunkState:
        trunk = self.pool.get(name)
        assert trunk is not None
        return trunk.state

    def to(self, name: str, target: TrunkState) -> list[Transition]:
        return [t for t in self.log if t.trunk == name and t.target is target]


def _loss_cause(share: float) -> CauseClass:
    """The class of a lost attempt at ``share`` (0..1) of the way through the loss mix."""
    for cause, part in LOSS_MIX:
        if share < part:
            return cause
        share -= part
    return LOSS_MIX[-1][0]


def warm(sim: Sim, ticks: int = 1500) -> Sim:
    sim.run(ticks)
    assert not sim.log, "healthy traffic changes nothing"
    return sim


def test_tally_leaves_self_inflicted_attempts_out() -> None:
    obs = tally(
        [
            (Outcome.ANSWERED_HUMAN, False),
            (Outcome.CALL_LOSS, False),
            (Outcome.CALL_LOSS, True),  # a 503 our own pace provoked
            (Outcome.CANCELLED, False),  # our throttle
            (Outcome.RISK_BLOCKED, False),
            (Outcome.NO_ANSWER, False),
        ]
    )
    assert obs == Observation(attempts=4, answered=1, call_loss=1, risk_blocked=1, self_inflicted=2)


def test_a_dead_trunk_is_ejected_at_once_and_the_others_stay() -> None:
    sim = warm(Sim())
    sim.rates["a"] = (0.0, 1.0)
    sim.run(20)
    (ejected,) = sim.log
    assert (ejected.trunk, ejected.source, ejected.target) == ("a", H, E)
    assert ejected.reason == "CallLoss" and "call loss" in ejected.message
    assert ejected.at == pytest.approx(sim.now, abs=4) and ejected.time.year >= 1970
    assert sim.state("b") is H and sim.state("c") is H


def test_a_one_trunk_asr_collapse_is_ejected_for_its_answer_rate() -> None:
    sim = warm(Sim(seed=2))
    sim.rates["a"] = (0.05, 0.02)
    sim.run(400)
    ejected = sim.to("a", E)
    assert ejected and ejected[0].reason == "AnswerRate"
    assert not sim.to("b", E) and not sim.to("c", E)


def test_ejected_rests_then_probes_then_is_healthy_again() -> None:
    sim = warm(Sim(seed=3))
    sim.rates["a"] = (0.0, 1.0)
    sim.run(20)
    ejected_at = sim.to("a", E)[0].at
    sim.rates["a"] = (0.3, 0.0)  # the carrier recovers
    sim.run(int((POLICY.eject_seconds - 5) / 0.2))
    assert sim.state("a") is E, "rests ejectSeconds first"
    sim.run(100)
    (probing,) = sim.to("a", P)
    assert probing.at - ejected_at >= POLICY.eject_seconds and probing.reason == "Probing"
    sim.run(200)
    (back,) = sim.to("a", H)
    assert back.source is P and back.reason == "ProbePassed"


def test_a_failed_probe_ejects_again_for_twice_as_long_up_to_the_cap() -> None:
    policy = HealthPolicy(eject_seconds=60, max_eject_seconds=100, probe_calls=5)
    assert [eject_seconds(policy, n) for n in (1, 2, 3)] == [60, 100, 100]
    sim = warm(Sim(seed=4, policy=policy))
    sim.rates["a"] = (0.0, 1.0)  # and stays dead
    sim.run(int(400 / 0.2))
    kinds = [(t.source, t.target) for t in sim.log if t.trunk == "a"]
    assert kinds[:4] == [(H, E), (E, P), (P, E), (E, P)]
    failed = [t for t in sim.log if t.trunk == "a" and t.source is P]
    assert failed[0].reason == "ProbeFailed"
    probes = [t.at for t in sim.log if t.trunk == "a" and t.target is P]
    rests = [t.at for t in sim.log if t.trunk == "a" and t.target is E]
    assert probes[0] - rests[0] == pytest.approx(60, abs=0.5)
    assert probes[1] - rests[1] == pytest.approx(100, abs=0.5)


def test_the_last_trunk_in_service_is_never_ejected() -> None:
    sim = warm(Sim("a", seed=5), 300)
    sim.rates["a"] = (0.0, 1.0)
    sim.run(100)
    assert sim.state("a") is D
    assert sim.log[0].reason == "LastInService" and "last trunk" in sim.log[0].message

    both = warm(Sim("ab", seed=6), 300)
    both.rates = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    both.run(1000)  # Sim.run checks that one trunk serves whenever one is ejected
    assert len([t for t in both.log if t.target is E]) >= 1


def test_the_kept_trunk_is_ejected_once_another_is_back() -> None:
    sim = warm(Sim("ab", seed=7), 300)
    sim.rates = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    while not any(t.target is E for t in sim.log):
        sim.run(1)
    other = sim.log[-1].trunk
    kept = "b" if other == "a" else "a"
    assert sim.state(kept) is D
    sim.rates[other] = HEALTHY
    sim.run(int(120 / 0.2))
    assert sim.to(other, H), "the other probed back"
    assert sim.to(kept, E), "then the dead one goes"


def test_a_quiet_trunk_is_not_ejected_by_three_unlucky_calls() -> None:
    sim = Sim(seed=8)
    sim.run(3, traffic={"a": 1, "b": 0, "c": 0})
    sim.rates["a"] = (0.0, 1.0)
    sim.run(3, traffic={"a": 1, "b": 0, "c": 0})  # three calls, all lost
    assert sim.state("a") is H and not sim.log
    trunk = sim.pool.get("a")
    assert trunk is not None and trunk.window.attempts < POLICY.min_samples


def test_asr_below_the_floor_degrades_and_recovery_clears_it() -> None:
    policy = HealthPolicy(window_seconds=60)
    sim = warm(Sim(seed=9, policy=policy), 600)
    sim.rates = dict.fromkeys("abc", (0.0, 0.02))  # nobody answers: every trunk below 5%
    sim.run(1500)
    assert all(sim.state(n) is D for n in "abc")
    assert {t.reason for t in sim.log} == {"AnswerRateFloor"}
    assert not any(t.target is E for t in sim.log), "the same on every trunk: not the lines"
    sim.rates = dict.fromkeys("abc", HEALTHY)
    sim.run(1500)
    assert all(sim.state(n) is H for n in "abc")
    assert {t.reason for t in sim.log if t.target is H} == {"Recovered"}


def test_a_borderline_trunk_does_not_flap() -> None:
    policy = HealthPolicy(window_seconds=60)
    sim = warm(Sim(seed=10, policy=policy), 600)
    sim.rates = dict.fromkeys("abc", (0.01, 0.02))
    sim.run(1500)
    assert sim.state("a") is D
    sim.log.clear()
    sim.rates = dict.fromkeys("abc", (0.05, 0.02))  # right at the 5% floor
    sim.run(6000)
    for name in "abc":
        assert len([t for t in sim.log if t.trunk == name]) <= 2


def test_a_list_wide_drop_ejects_nobody() -> None:
    sim = warm(Sim(seed=11))
    sim.rates = dict.fromkeys("abc", (0.10, 0.02))
    sim.run(3000)
    assert not [t for t in sim.log if t.target is E]


def test_self_inflicted_503s_do_not_count_against_the_line() -> None:
    sim = warm(Sim(seed=12))
    for _ in range(500):
        sim.now += 0.2
        obs = {n: sim.observe(*HEALTHY) for n in "abc"}
        obs["a"] = obs["a"] + Observation(self_inflicted=3)  # 3 of every 4 attempts: our 503s
        sim.pool, transitions = evaluate(sim.pool, obs, POLICY, sim.now)
        assert not transitions
    trunk = sim.pool.get("a")
    assert trunk is not None and trunk.window.call_loss_rate is not None
    assert trunk.window.call_loss_rate < 0.1


def test_initial_restores_ejected_trunks_and_sync_follows_the_spec() -> None:
    pool = initial(["a", "b", "c"], 100.0, {"a": (E, 90.0), "b": (D, 80.0), "c": (P, 95.0)})
    assert pool.states == {"a": E, "b": H, "c": P}
    pool, transitions = evaluate(pool, {}, POLICY, 150.0 + POLICY.eject_seconds)
    assert [(t.trunk, t.target) for t in transitions] == [("a", P)]
    synced = sync_trunks(pool, ["c", "d"], 200.0)
    assert [t.name for t in synced.trunks] == ["c", "d"]
    assert synced.states == {"c": P, "d": H}


def test_thresholds_follow_the_trunks_rate() -> None:
    cal = Calibration((1.0, 4.0), ((10.0, 12.0), (5.0, 5.0)))
    assert cal.at(0.1) == (10.0, 5.0) and cal.at(1.0) == (10.0, 5.0)
    assert cal.at(2.0) == pytest.approx((11.0, 5.0))  # halfway in log(rate)
    assert cal.at(100.0) == (12.0, 5.0)
    with pytest.raises(ValueError, match="increase"):
        Calibration((4.0, 1.0), ((1.0, 1.0),))
    with pytest.raises(ValueError, match="one threshold"):
        Calibration((1.0, 4.0), ((1.0,),))
    # A busy trunk dials more attempts a week: its detectors need more evidence.
    for indicator in ("loss", "asr"):
        quiet, busy = thresholds(indicator, 1.0), thresholds(indicator, 20.0)
        assert len(quiet) == len(busy) and all(q <= b for q, b in zip(quiet, busy, strict=True))


# False alarms per trunk-week each detector may raise, by calibrated rate (health.py's table).
BUDGETS = {
    ("loss", 0): (0.15, 0.10, 0.10, 0.10, 0.10, 0.10),
    ("loss", 1): (0.05, 0.10, 0.10, 0.15, 0.20, 0.20),
    ("asr", 0): (0.15, 0.20, 0.30, 0.25, 0.20, 0.20),
}


@pytest.mark.parametrize(("indicator", "index"), list(BUDGETS))
def test_calibrated_thresholds_keep_each_detector_within_its_budget(
    indicator: str, index: int
) -> None:
    scheme = DEFAULT_TUNING.loss if indicator == "loss" else DEFAULT_TUNING.asr
    healthy = 0.02 if indicator == "loss" else 0.30
    design = scheme.designs(healthy)[index]
    for rate, budget in zip(CALIBRATED_RATES, BUDGETS[indicator, index], strict=True):
        h = thresholds(indicator, rate)[index]
        batch = attempts_per_evaluation(rate)
        evaluations = rate * 7 * 86_400 / batch  # with outcomes, in a week
        per_week = alarm_rate(replace(design, threshold=h), batch, healthy) * evaluations
        assert per_week <= budget * 1.01, (rate, per_week)
        # ...and is not needlessly strict where the budget is spent (made monotone above 5/s).
        looser = alarm_rate(replace(design, threshold=h - 0.3), batch, healthy) * evaluations
        assert looser > budget or rate > 5.0, (rate, looser)


def test_the_window_measures_the_trunks_rate() -> None:
    sim = Sim(seed=13)
    sim.run(600, dt=0.5, traffic={"a": 1, "b": 2, "c": 0})  # 2 and 4 attempts a second
    rates = {t.name: t.window.rate for t in sim.pool.trunks}
    assert rates["a"] == pytest.approx(2.0, rel=0.01) and rates["b"] == pytest.approx(4.0, rel=0.01)
    assert rates["c"] == 0.0


def test_references_remember_enough_attempts() -> None:
    slow = Sim(seed=14)
    slow.run(4000, dt=1.0)  # one call a second per trunk: two a second on the others
    trunk = slow.pool.get("a")
    assert trunk is not None
    # The 300 s window would keep ~600 of the others' attempts; the ASR reference keeps 2400.
    assert trunk.window.attempts == pytest.approx(300, rel=0.05)
    assert trunk.asr.ref_trials == pytest.approx(DEFAULT_TUNING.reference_attempts, rel=0.05)
    busy = Sim(seed=14)
    busy.run(6000, dt=1.0, traffic=dict.fromkeys("abc", 5))
    trunk = busy.pool.get("a")
    assert trunk is not None
    assert trunk.asr.ref_trials == pytest.approx(10 * 300, rel=0.05)  # the window is longer
    loss_memory = DEFAULT_TUNING.loss_reference_attempts  # losses are rare: remember more
    assert trunk.loss.ref_trials == pytest.approx(loss_memory, rel=0.05)


def test_a_dead_trunk_is_not_held_by_noise_on_the_others() -> None:
    sim = warm(Sim(seed=15))
    a = sim.pool.get("a")
    assert a is not None
    # A few unlucky losses on b and c put a's guard past its block level, as happens for a
    # while every few hours; a's line dies just then.
    guarded = replace(a, loss=replace(a.loss, guard=Cusum(DEFAULT_TUNING.loss.block_threshold + 2)))
    sim.pool = replace(sim.pool, trunks=(guarded, *sim.pool.trunks[1:]))
    sim.rates["a"] = (0.0, 1.0)
    sim.run(12)
    assert [(t.trunk, t.target) for t in sim.log] == [("a", E)]


# --- cause classes ---------------------------------------------------------------------------


def attempts_to_eject(sim: Sim, name: str, limit: int) -> tuple[int, Transition | None]:
    """Evaluations (one attempt each on ``name``) until it is ejected, at most ``limit``."""
    for tick in range(1, limit + 1):
        sim.run(1)
        if ejected := sim.to(name, E):
            return tick, ejected[0]
    return limit, None


NAMED = {
    CauseClass.CONGESTION: "congestion (503)",
    CauseClass.TIMEOUT: "timeouts (408)",
    CauseClass.SERVER_ERROR: "server errors (5xx)",
    CauseClass.FORBIDDEN: "refusals (403/603)",
    CauseClass.UNALLOCATED: "unallocated numbers (404/484)",
    CauseClass.OTHER: "other line failures",
}


@pytest.mark.parametrize("cause", CLASSES)
def test_an_outage_of_one_cause_ejects_within_six_attempts(cause: CauseClass) -> None:
    # Every call failing with one cause, on a trunk that was completing calls: a line down.
    # The call-loss detectors alone need more (and never see 403s and 404s: no line failures).
    sim = warm(Sim(seed=20))
    sim.failing["a"] = (cause, 1.0)
    attempts, ejected = attempts_to_eject(sim, "a", 6)
    assert ejected is not None, f"{cause} not ejected within {attempts} attempts"
    assert ejected.reason == "Outage", ejected
    assert ejected.message.startswith(NAMED[cause]), ejected.message
    assert not sim.to("b", E) and not sim.to("c", E)


@pytest.mark.parametrize("seed", range(21, 26))
def test_a_cause_rising_to_half_the_attempts_ejects(seed: int) -> None:
    # Refusals (403/603) from 0 to half the calls: no call loss at all, and a drop of ASR
    # from 30% to 15% that its own detector takes hundreds of attempts to be sure of.
    sim = warm(Sim(seed=seed))
    sim.failing["a"] = (CauseClass.FORBIDDEN, 0.5)
    attempts, ejected = attempts_to_eject(sim, "a", 30)
    assert ejected is not None and ejected.reason in {"FailureCause", "Outage"}, attempts
    assert "refusals" in ejected.message


@pytest.mark.parametrize("cause", [CauseClass.CONGESTION, CauseClass.UNALLOCATED])
def test_a_cause_failing_a_third_of_every_trunk_s_calls_ejects_nobody(cause: CauseClass) -> None:
    # A callee network that is down behind every trunk: a third of each one's calls fail alike.
    sim = warm(Sim(seed=27))
    sim.failing = dict.fromkeys("abc", (cause, 1 / 3))
    sim.run(3000)
    assert not [t for t in sim.log if t.target is E], sim.log


@pytest.mark.parametrize("seed", [10, 12, 13, 14])
def test_a_callee_network_down_behind_every_trunk_ejects_nobody_at_one_call_a_second(
    seed: int,
) -> None:
    # A third of every trunk's calls fail, at 1 call/s each: most evaluations see a call of
    # one trunk only. An alarm on a run of losses is judged against all the others' calls
    # over the run, not only those of the evaluations the trunk had a call in (a quarter of
    # them, where a dozen unlucky calls would confirm it: issue 16's network-down control).
    sim = Sim(seed=seed)
    sim.arrive(3000, 1.0)
    assert not sim.log, "healthy traffic changes nothing"
    sim.failing = dict.fromkeys("abc", (CauseClass.CONGESTION, 1 / 3))
    sim.arrive(300, 1.0)
    assert not [t for t in sim.log if t.target is E], sim.log


def test_a_cause_failing_everywhere_then_on_one_trunk_ejects_that_trunk() -> None:
    # The control's other side: the others failing alike must not hold a line that then dies.
    sim = warm(Sim(seed=28))
    sim.failing = dict.fromkeys("abc", (CauseClass.CONGESTION, 1 / 3))
    sim.run(1500)
    sim.failing["a"] = (CauseClass.CONGESTION, 1.0)
    attempts, ejected = attempts_to_eject(sim, "a", 40)
    assert ejected is not None, attempts
    assert not sim.to("b", E) and not sim.to("c", E)


@pytest.mark.parametrize("rate", CALIBRATED_RATES)
def test_cause_thresholds_keep_each_class_within_its_budget(rate: float) -> None:
    # 0.02 false alarms per trunk-week for a class at any baseline from 0.2% to 10%.
    scheme = DEFAULT_TUNING.causes
    (h,) = thresholds("cause", rate)
    batch = attempts_per_evaluation(rate)
    evaluations = rate * 7 * 86_400 / batch
    for p in (0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1):
        (design,) = scheme.designs(p)
        per_week = alarm_rate(replace(design, threshold=h), batch, p) * evaluations
        assert per_week <= 0.02, (rate, p, per_week)


@pytest.mark.parametrize(("rate", "budget"), [(1.0, 0.15), (5.0, 0.30), (20.0, 0.20)])
def test_asr_false_alarms_against_an_estimated_baseline_stay_in_budget(
    rate: float, budget: float
) -> None:
    # The others' answer rate is an estimate: from the reference's 2400 attempts, or from 300
    # just after a rebase. Averaged over its error, the detector's false alarms at the healthy
    # 30% must stay within its budget (and under one a trunk-week even on the thin reference);
    # judged against the estimate itself they were 1.4 to 1.8 times the budget, and 17 to 68
    # times it after a rebase.
    scheme, (h,) = DEFAULT_TUNING.asr, thresholds("asr", rate)
    batch = attempts_per_evaluation(rate)
    evaluations = rate * 7 * 86_400 / batch
    z = [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]
    weights = [math.exp(-v * v / 2) for v in z]
    for n, allowed in ((DEFAULT_TUNING.reference_attempts, budget), (300.0, 1.0)):
        se = math.sqrt(0.3 * 0.7 / n)
        expected = 0.0
        for v, w in zip(z, weights, strict=True):
            p0 = scheme.baseline((0.3 + v * se) * n, n)
            assert p0 is not None
            (design,) = scheme.designs(p0)
            expected += w * alarm_rate(replace(design, threshold=h), batch, 0.3)
        per_week = expected / sum(weights) * evaluations
        assert per_week <= allowed, (rate, n, per_week)
