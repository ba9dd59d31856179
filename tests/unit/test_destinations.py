"""Line health per (trunk, callee network) pair (kdial.routing.destinations), driven as the
operator drives it: each evaluation folds a pool's calls into its trunks and their routes."""

from __future__ import annotations

import dataclasses
import random
from collections import deque

import pytest

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.routing import destinations, health
from kdial.routing.destinations import Change, Destinations
from kdial.routing.detectors import Comparison, Cusum
from kdial.routing.health import Observation, Transition
from kdial_cli.bench import health as bench_health

H, D, E, P = TrunkState.HEALTHY, TrunkState.DEGRADED, TrunkState.EJECTED, TrunkState.PROBING
POLICY = HealthPolicy(eject_seconds=30, max_eject_seconds=120)
MOBILE, UNICOM, TELECOM = "cn-china-mobile", "cn-china-unicom", "cn-china-telecom"
# Unicom carries a third of the traffic.
SHARES = {MOBILE: 0.45, UNICOM: 1 / 3, TELECOM: 0.2167}
NO_LINE_FAILURE = {None, CauseClass.FORBIDDEN, CauseClass.UNALLOCATED}


class Pool:
    """Two trunks at 5 calls/s each, callees of three networks; a call goes to a trunk whose
    route to its network is in service, or waits when the network is down. A lost call fails
    with a 503 (congestion), or with the cause its trunk fails every call with (``failing``);
    the trunks' counts carry the cause classes, the routes' do not (as workers count them)."""

    def __init__(
        self,
        seed: int = 1,
        shares: dict[str, float] = SHARES,
        lag: int = 0,
        policy: HealthPolicy = POLICY,
    ) -> None:
        self.rng = random.Random(seed)
        self.policy = policy
        self.shares = shares
        # Workers route by the table as it was `lag` evaluations ago (they re-read it each second).
        self.tables: deque[tuple[dict[str, float], dict[str, dict[str, TrunkState]]]] = deque(
            maxlen=lag + 1
        )
        self.now = 1000.0
        self.trunks = health.initial(["a", "b"], self.now)
        self.networks = Destinations()
        self.broken: set[tuple[str, str]] = set()
        self.failing: dict[str, CauseClass] = {}
        self.lossy: dict[str, float] = {}  # trunk: share of its calls lost, to every network
        self.dialled: list[tuple[float, str, str]] = []
        self.waited: dict[str, int] = {}
        self.changes: list[Change] = []
        self.transitions: list[Transition] = []

    def route(self, network: str) -> str | None:
        waiting, pairs = self.tables[0]
        if network in waiting:
            return None
        usable = [
            t.name
            for t in self.trunks.trunks
            if t.state is not E and pairs.get(t.name, {}).get(network) is not E
        ]
        return self.rng.choice(usable) if usable else None

    def tick(self, calls: int = 2, dt: float = 0.2) -> None:
        self.now += dt
        waiting = destinations.waiting(self.networks, self.policy)
        self.tables.append((waiting, destinations.pair_states(self.networks)))
        trunk_obs: dict[str, Observation] = {}
        pair_obs: dict[str, dict[str, Observation]] = {}
        for _ in range(calls):
            network = self.rng.choices(list(self.shares), weights=list(self.shares.values()))[0]
            trunk = self.route(network)
            if trunk is None:
                self.waited[network] = self.waited.get(network, 0) + 1
                continue
            self.dialled.append((self.now, trunk, network))
            u = self.rng.random()
            cause = self.failing.get(trunk)
            # Drawn only for a lossy trunk: the other tests' seeds keep their streams.
            lossy = trunk in self.lossy and self.rng.random() < self.lossy[trunk]
            if cause is None and ((trunk, network) in self.broken or lossy or 0.30 <= u < 0.32):
                cause = CauseClass.CONGESTION
            lost = cause not in NO_LINE_FAILURE
            risk = cause is CauseClass.FORBIDDEN
            call = Observation(1, int(cause is None and u < 0.30), int(lost), int(risk))
            causes = tuple(int(c is cause) for c in CLASSES)
            counted = dataclasses.replace(call, causes=causes)
            trunk_obs[trunk] = trunk_obs.get(trunk, Observation()) + counted
            mine = pair_obs.setdefault(network, {})
            mine[trunk] = mine.get(trunk, Observation()) + call
        self.trunks, self.networks, transitions, changes = destinations.evaluate(
            self.trunks, self.networks, trunk_obs, pair_obs, policy=self.policy, now=self.now
        )
        self.changes += changes
        self.transitions += transitions

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.2)):
            self.tick()

    def pair(self, trunk: str, network: str) -> TrunkState:
        found = self.networks.get(network)
        assert found is not None
        pair = found.pairs.get(trunk)
        assert pair is not None
        return pair.state

    def network_state(self, network: str) -> TrunkState:
        found = self.networks.get(network)
        assert found is not None
        return found.state


@pytest.mark.parametrize("rate", [1.0, 5.0, 20.0])
def test_a_trunk_s_routes_together_spend_their_share_of_its_false_alarm_budget(
    rate: float,
) -> None:
    # Computed (calibration.alarm_rate): each route judged as a trunk at its own rate would
    # spend a trunk's whole budget, three times over for three networks.
    tuning = health.DEFAULT_TUNING
    trunk = bench_health.detector_alarms(rate, tuning)
    routes = [
        bench_health.detector_alarms(rate * share, destinations.route_tuning(tuning, share))
        for share in bench_health.NETWORKS.values()
    ]
    assert sum(routes) <= tuning.route_budget_share * trunk * 1.02, (trunk, routes)
    assert bench_health.pool_alarms(rate, tuning) == pytest.approx(trunk + sum(routes))


def warm(pool: Pool) -> Pool:
    pool.run(300)
    assert not pool.changes and not pool.transitions, "healthy traffic changes nothing"
    return pool


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_trunk_that_loses_one_network_stops_getting_it_and_keeps_the_rest(seed: int) -> None:
    pool = warm(Pool(seed))
    pool.broken = {("a", UNICOM)}
    start = pool.now
    while pool.pair("a", UNICOM) is not E:
        assert pool.now < start + 60, "the pair was never excluded"
        pool.tick()
    excluded = pool.now
    sent = [d for d in pool.dialled if d[0] > start and d[1:] == ("a", UNICOM)]
    assert len(sent) <= 40, f"{len(sent)} calls to Unicom on a before its exclusion"
    assert destinations.pair_states(pool.networks) == {"a": {UNICOM: E}}
    pool.run(20)
    after = [d for d in pool.dialled if d[0] > excluded]
    assert not [d for d in after if d[1:] == ("a", UNICOM)], "a gets no Unicom call"
    assert [d for d in after if d[1:] == ("b", UNICOM)], "Unicom goes to b"
    assert [d for d in after if d[1] == "a" and d[2] != UNICOM], "a keeps the other networks"
    assert not pool.transitions, "the trunk itself is never ejected nor degraded"
    assert [(c.trunk, c.network, c.target) for c in pool.changes] == [("a", UNICOM, E)]


def test_an_excluded_pair_is_probed_after_its_rest_and_comes_back() -> None:
    pool = warm(Pool(seed=2))
    pool.broken = {("a", UNICOM)}
    pool.run(20)
    assert pool.pair("a", UNICOM) is E
    pool.broken = set()
    pool.run(POLICY.eject_seconds + 15)
    states = [(c.trunk, c.network, c.target) for c in pool.changes]
    assert states[-2:] == [("a", UNICOM, P), ("a", UNICOM, H)], states
    assert destinations.pair_states(pool.networks) == {}
    probed = next(c for c in pool.changes if c.target is P)
    ejected = next(c for c in pool.changes if c.target is E)
    assert probed.at - ejected.at >= POLICY.eject_seconds
    assert not pool.transitions


def test_a_probe_that_fails_excludes_the_pair_again_for_longer() -> None:
    pool = warm(Pool(seed=3))
    pool.broken = {("a", UNICOM)}
    pool.run(POLICY.eject_seconds + 30)
    targets = [c.target for c in pool.changes if c.trunk == "a"]
    assert targets[:3] == [E, P, E], targets
    again = [c for c in pool.changes if c.target is E]
    assert again[1].reason == "ProbeFailed"
    assert not pool.transitions


def test_a_network_down_on_every_trunk_excludes_nothing_and_its_contacts_wait() -> None:
    pool = warm(Pool(seed=4))
    pool.broken = {("a", UNICOM), ("b", UNICOM)}
    pool.run(10)
    assert pool.network_state(UNICOM) is E
    assert [(c.trunk, c.reason) for c in pool.changes] == [(None, "NetworkDown")]
    assert destinations.pair_states(pool.networks) == {}, "no route excluded"
    assert not pool.transitions, "no trunk ejected"
    probe_at = destinations.waiting(pool.networks, POLICY)[UNICOM]
    lost = sum(1 for d in pool.dialled if d[2] == UNICOM and d[0] > 1300)
    assert lost < 40, "few calls were spent finding out"
    assert pool.waited.get(UNICOM, 0) > 0, "the network's contacts wait instead"
    pool.broken = set()
    pool.run(probe_at - pool.now + 10)
    assert pool.network_state(UNICOM) is H
    assert [c.target for c in pool.changes if c.trunk is None] == [E, P, H]
    assert destinations.pair_states(pool.networks) == {} and not pool.transitions


def test_a_trunk_that_fails_every_network_is_still_ejected_as_a_whole() -> None:
    pool = warm(Pool(seed=5))
    pool.broken = {("a", n) for n in SHARES}
    start = pool.now
    while not pool.transitions:
        assert pool.now < start + 10, "the trunk was never ejected"
        pool.tick()
    assert pool.transitions[0].trunk == "a" and pool.transitions[0].target is E
    sent = [d for d in pool.dialled if d[0] > start and d[1] == "a"]
    assert len(sent) <= 25, f"{len(sent)} calls on a before it was ejected"


def test_a_trunk_that_loses_half_of_every_network_s_calls_is_judged_on_all_of_them() -> None:
    # Its routes turn suspect within a few calls, and their calls are held back from the trunk's
    # judgement; the trunk's calls to its other networks lose as many, so the held calls are
    # the trunk's evidence too. Judged only when the other calls of the same evaluation all
    # failed, the trunk kept half its evidence back and took up to twice as many calls.
    sent = []
    for seed in range(1, 21):
        pool = warm(Pool(seed=seed))
        pool.lossy = {"a": 0.5}
        start = pool.now
        while not [t for t in pool.transitions if t.target is E]:
            assert pool.now < start + 30, "the trunk was never ejected"
            pool.tick()
        assert [t.trunk for t in pool.transitions] in (["a"], ["a", "a"]), pool.transitions
        sent.append(len([d for d in pool.dialled if d[0] > start and d[1] == "a"]))
    assert max(sent) <= 32 and sum(sent) / len(sent) <= 20, sorted(sent)


@pytest.mark.parametrize("cause", [CauseClass.CONGESTION, CauseClass.FORBIDDEN])
def test_a_trunk_that_fails_every_call_with_one_cause_is_ejected_for_the_outage(
    cause: CauseClass,
) -> None:
    # The trunks' cause classes reach their judgement through the routes' (issue 16): a line
    # down is ejected within a few calls, even when what it answers (403) is no call loss.
    # (Within ten: against one other trunk's few calls the confirmation takes a few more.)
    pool = warm(Pool(seed=9))
    pool.failing = {"a": cause}
    start = pool.now
    while not [t for t in pool.transitions if t.target is E]:
        assert pool.now < start + 10, "the trunk was never ejected"
        pool.tick()
    assert [(t.trunk, t.target) for t in pool.transitions] in ([("a", E)], [("a", D), ("a", E)])
    assert pool.transitions[-1].reason == "Outage", pool.transitions
    sent = [d for d in pool.dialled if d[0] > start and d[1] == "a"]
    assert len(sent) <= 10, f"{len(sent)} calls on a before it was ejected"


def test_a_trunk_of_a_list_of_one_network_that_fails_is_ejected_not_its_route() -> None:
    pool = warm(Pool(seed=6, shares={MOBILE: 1.0}))
    pool.broken = {("a", MOBILE)}
    start = pool.now
    while not pool.transitions:
        assert pool.now < start + 10, "the trunk was never ejected"
        pool.tick()
    assert [(t.trunk, t.target) for t in pool.transitions] == [("a", E)]
    pool.run(5)
    assert destinations.pair_states(pool.networks) == {}, "the trunk's state speaks for it"
    assert not [c for c in pool.changes if c.target is E]


def test_what_a_network_down_loses_at_its_probes_is_not_held_against_the_trunks() -> None:
    # A short window, as the integration test's, and the table reaching workers a second late.
    short = HealthPolicy(window_seconds=30, min_samples=10, eject_seconds=5, max_eject_seconds=10)
    pool = warm(Pool(seed=7, lag=5, policy=short))
    pool.broken = {("a", UNICOM), ("b", UNICOM)}
    for _ in range(round(60 / 0.2)):  # several failed probes of the network
        pool.tick(calls=6)
    probes = [c for c in pool.changes if c.trunk is None and c.target is P]
    assert len(probes) >= 2, pool.changes
    assert not pool.transitions, "no trunk blamed"
    assert destinations.pair_states(pool.networks) == {}


def test_a_route_excluded_just_before_its_network_was_found_down_is_reinstated() -> None:
    pool = warm(Pool(seed=8))
    pool.broken = {("a", UNICOM)}
    while pool.pair("a", UNICOM) is not E:
        pool.tick()
    pool.broken = {("a", UNICOM), ("b", UNICOM)}  # then b fails it too: the network is down
    while pool.network_state(UNICOM) is not E:
        assert pool.now < 3000, "the network was never found down"
        pool.tick()
    assert pool.pair("a", UNICOM) is H, "the network's failure, not a's route"
    back = [c for c in pool.changes if c.trunk == "a" and c.target is H]
    assert back and back[-1].reason == "NetworkDown", pool.changes
    assert not pool.transitions


def test_a_trunk_ejected_as_a_whole_forgets_the_calls_it_held_back() -> None:
    # Else they would join its probe's evidence once it is back, and fail it.
    pool = health.initial(["a", "b"], 0.0, {"a": (E, 0.0)})
    held = {("a", UNICOM): destinations.Hold(Observation(3, 0, 3, 0), Observation(1, 1, 0, 0))}
    networks = Destinations(held=held)
    _, after, _, _ = destinations.evaluate(pool, networks, {}, {}, policy=POLICY, now=1.0)
    assert after.held == {}


def test_calls_held_back_for_a_route_that_starts_over_with_its_network_are_not_the_trunk_s() -> (
    None
):
    # The other trunks' calls to Unicom fail too, and a's route starts its detectors over
    # against them: suspect no more, but what it held back is the network's, not a's.
    tuning = health.DEFAULT_TUNING
    names = ["a", "b", "c"]
    near = Cusum(statistic=tuning.loss.guard_threshold - 0.01)
    shifting = Comparison(ref_events=20.0, ref_trials=1000.0, guard=near)
    pairs = health.PoolHealth(
        tuple(
            health.TrunkHealth(t, H, 0.0, loss=shifting if t == "a" else Comparison())
            for t in names
        ),
        0.0,
    )
    held = {("a", UNICOM): destinations.Hold(Observation(3, 0, 3, 0), Observation(1, 1, 0, 0))}
    networks = Destinations((destinations.NetworkHealth(UNICOM, pairs),), held)
    failing = {t: Observation(4, 0, 4, 0) for t in ("b", "c")}
    calls = {"a": Observation(2, 2, 0, 0), **failing}
    trunks, after, _, _ = destinations.evaluate(
        health.initial(names, 0.0),
        networks,
        calls,
        {UNICOM: failing, MOBILE: {"a": Observation(2, 2, 0, 0)}},
        policy=POLICY,
        now=0.25,
    )
    route = after.get(UNICOM)
    pair = route.pairs.get("a") if route is not None else None
    assert pair is not None and pair.loss.rebased, "the others shifted: a's route started over"
    assert after.held == {}
    a = trunks.get("a")
    assert a is not None and a.window.call_loss == 0, "a is judged on its own calls"


@pytest.mark.parametrize(("b", "excluded"), [(H, True), (E, False)])
def test_a_probe_excludes_a_route_only_while_another_trunk_serves_its_network(
    b: TrunkState, excluded: bool
) -> None:
    pool = health.initial(["a", "b"], 0.0, {"a": (P, 0.0), "b": (b, 0.0)})
    networks = Destinations(
        tuple(destinations.NetworkHealth(n, health.initial(["a", "b"], 0.0)) for n in SHARES)
    )
    lost, answered = Observation(2, 0, 2, 0), Observation(1, 1, 0, 0)
    trunk = dataclasses.replace(lost + answered, causes=(2, 0, 0, 0, 0, 0))
    pool, after, transitions, changes = destinations.evaluate(
        pool,
        networks,
        {"a": trunk},
        {UNICOM: {"a": lost}, MOBILE: {"a": answered}},
        policy=POLICY,
        now=1.0,
    )
    assert [(c.trunk, c.network, c.reason) for c in changes] == (
        [("a", UNICOM, destinations.TRUNK_PROBE)] if excluded else []
    )
    assert destinations.pair_states(after) == ({"a": {UNICOM: E}} if excluded else {})
    # Excluded, the route's calls leave the probe, which goes on; else they fail it.
    assert pool.states["a"] is (P if excluded else E), transitions


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_trunk_whose_probe_fails_one_network_only_comes_back_without_that_route(
    seed: int,
) -> None:
    # a fails every call until it is ejected; while it rests, only its route to Unicom stays
    # broken. A third of its probe calls go there: judged as a whole, the probe fails about
    # half the time, for longer rests each time, though a carries the other networks fine.
    pool = warm(Pool(seed))
    pool.broken = {("a", n) for n in SHARES}
    while pool.trunks.states["a"] is not E:
        pool.tick()
    pool.broken = {("a", UNICOM)}
    while pool.trunks.states["a"] in (E, P):
        assert pool.now < 5000, "a never came back"
        pool.tick()
    entered = [t.at for t in pool.transitions if t.target is P]
    for start, end in zip(entered, [t for t in pool.transitions if t.source is P], strict=True):
        probe = {d[2] for d in pool.dialled if start < d[0] <= end.at and d[1] == "a"}
        # Failed only when no call of it reached another network to tell the route by.
        assert end.target is H or probe == {UNICOM}, (end, probe)
    back = pool.now
    while pool.pair("a", UNICOM) is not E:  # at the probe, or by its pair soon after
        assert pool.now < back + 30, "the route was never excluded"
        pool.tick()
    excluded = [c for c in pool.changes if c.trunk == "a" and c.target is E]
    assert [c.network for c in excluded] == [UNICOM], pool.changes
    if excluded[0].reason == destinations.TRUNK_PROBE:
        assert excluded[0].message.startswith("trunk a's probe lost 2 of its 2 calls")
    since = pool.now
    pool.run(20)  # less than the route's rest
    after = [d for d in pool.dialled if d[0] > since and d[1] == "a"]
    assert after and all(d[2] != UNICOM for d in after), "a carries the other networks only"
    assert [t.target for t in pool.transitions if t.at > back] == [], "a stays in service"
