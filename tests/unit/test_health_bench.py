"""`kdial bench health --json`: the shape of its output, on tiny runs (nothing timed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.routing import health
from kdial.routing.destinations import Change, Destinations
from kdial.routing.health import Observation, Transition
from kdial_cli.bench import health as bench_health
from kdial_cli.bench.health import FAILING, NETWORKS, TRUNKS, Judge, Routing, Trial

H, D, E, P = TrunkState.HEALTHY, TrunkState.DEGRADED, TrunkState.EJECTED, TrunkState.PROBING
OTHER = next(n for n in NETWORKS if n != FAILING)

NAMES = {
    "hard-failure",
    "soft-failure",
    "asr-collapse",
    "outage",
    "cause-failure",
    "network-failure",
    "network-down",
    "healthy",
    "control-list-wide-drop",
    "control-self-503",
    "cid-marked",
    "cid-control",
}
EJECT_FIELDS = ("attempts_to_eject_p95", "seconds_to_eject_p95")
CONTROLS = {"control-list-wide-drop", "control-self-503", "network-down"}


def test_json_has_every_scenario_with_the_fields_the_checks_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "--json",
        "--trials",
        "1",
        "--cps",
        "20",
        "--healthy-weeks",
        "0.0001",
        "--prelude",
        "0.2",
    ]
    assert bench_health.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["scenarios"]
    assert {r["name"] for r in rows} == NAMES
    for row in rows:
        assert row["cps"] == 20
        assert isinstance(row["false_ejections"], int)
        for field in (*EJECT_FIELDS, "attempts_to_eject_median", "seconds_to_eject_median"):
            assert field in row
        if row["name"] in {*CONTROLS, "healthy", "cid-control"}:
            assert all(row[f] is None for f in EJECT_FIELDS)
    for row in rows:
        if not row["name"].startswith("cid-"):
            assert isinstance(row["false_exclusions"], int)
    healthy = next(r for r in rows if r["name"] == "healthy")
    assert sum(healthy["false_ejections_by_reason"].values()) == healthy["false_ejections"]
    assert sum(healthy["false_exclusions_by_reason"].values()) == healthy["false_exclusions"]
    network = next(r for r in rows if r["name"] == "network-failure")
    assert 0.0 <= network["trunk_ejected"] <= 1.0 and "attempts_to_eject_p95" in network
    assert 0.0 <= network["detected"] <= 1.0
    hard = next(r for r in rows if r["name"] == "hard-failure")
    assert isinstance(hard["attempts_to_eject_p95"], (int, float))
    assert "seconds_to_restore" in hard


def test_the_table_prints_a_row_per_scenario() -> None:
    args = bench_health.parser().parse_args(["--trials", "1", "--cps", "20", "--only", "healthy"])
    args.healthy_weeks = 0.0001
    text = bench_health.render(bench_health.run(args))
    assert "healthy" in text.splitlines()[1]


def test_quick_runs_every_scenario_at_5_and_20_calls_a_second() -> None:
    args = bench_health.parser().parse_args(["--quick", "--only", "healthy", "outage"])
    result = bench_health.run(args)
    assert result["trials"] == bench_health.QUICK_TRIALS
    assert sorted((r["name"], r["cps"]) for r in result["scenarios"]) == [
        ("healthy", 5.0),
        ("healthy", 20.0),
        ("outage", 5.0),
        ("outage", 20.0),
    ]
    outage = [r for r in result["scenarios"] if r["name"] == "outage"]
    assert all(r["detected"] == 1.0 for r in outage), outage


def test_healthy_traffic_runs_in_equal_chunks_of_at_most_a_quarter_week() -> None:
    assert bench_health.healthy_chunks(0.1) == [0.1]
    assert bench_health.healthy_chunks(0.25) == [0.25]
    assert bench_health.healthy_chunks(0.6) == pytest.approx([0.2, 0.2, 0.2])
    assert len(bench_health.healthy_chunks(bench_health.FULL_WEEKS)) == 32


def test_a_full_healthy_run_is_the_sum_of_single_chunk_runs_by_seed() -> None:
    """Chunk i of seed s draws what chunk 0 of seed s + i draws, and no other (rate, chunk)."""

    def draws(seed: int, cps: float, chunk: int) -> list[float]:
        return list(bench_health.healthy_rng(seed, cps, chunk).random(4))

    assert draws(1, 20, 3) == draws(4, 20, 0)
    assert draws(1, 20, 3) != draws(1, 20, 2)
    assert draws(1, 20, 3) != draws(1, 5, 3)


def _routing(
    trunks: dict[str, TrunkState] | None = None,
    routes: tuple[tuple[str, str, TrunkState], ...] = (),
    waiting: frozenset[str] = frozenset(),
) -> Routing:
    states = dict.fromkeys(TRUNKS, H) | (trunks or {})
    return Routing(tuple(states.items()), routes, waiting)


def test_a_route_out_of_health_takes_its_network_s_calls_only() -> None:
    routing = _routing(routes=(("a", FAILING, E),))
    assert routing.weights(FAILING)["a"] == 0 < routing.weights(FAILING)["b"]
    assert routing.weights(OTHER)["a"] == routing.weights(OTHER)["b"] > 0
    probing = _routing(routes=(("a", FAILING, P),)).weights(FAILING)
    assert 0 < probing["a"] < probing["b"]


def test_a_trunk_ejected_takes_no_call_whatever_its_routes() -> None:
    routing = _routing(trunks={"a": E}, routes=(("a", FAILING, H),))
    assert routing.weights(FAILING)["a"] == routing.weights(OTHER)["a"] == 0


def test_a_network_whose_contacts_wait_gets_no_call() -> None:
    routing = _routing(waiting=frozenset({FAILING}))
    assert set(routing.weights(FAILING).values()) == {0}
    assert 0 not in routing.weights(OTHER).values()


def test_the_judge_s_routing_is_what_the_operator_writes() -> None:
    policy = HealthPolicy()
    judge = Judge(health.initial(TRUNKS, 0.0), Destinations())
    assert judge.routing(policy) == _routing()


def test_routes_are_counted_as_workers_count_them_and_summed_per_trunk() -> None:
    causes = (1, 0, 0, 1, 0, 0)
    counted = bench_health.observations(
        {
            ("a", FAILING): Observation(3, 1, 1, 1, 2, causes),
            ("a", OTHER): Observation(2, 1, 0, 0, 0),
            ("b", OTHER): Observation(0, 0, 0, 0, 1),
        }
    )
    assert counted.trunks["a"] == Observation(5, 2, 1, 1, 2, causes)
    assert counted.trunks["b"] == Observation(0, 0, 0, 0, 1)
    assert counted.trunks["c"] == Observation()
    # No cause classes and no self-inflicted attempts per network, and no empty routes.
    assert counted.pairs == {
        FAILING: {"a": Observation(3, 1, 1, 1)},
        OTHER: {"a": Observation(2, 1, 0, 0)},
    }
    assert counted.on(("a", FAILING)) == 3 and counted.on(("c", FAILING)) == 0


def _scored(scenario: str, transitions: list[Transition], changes: list[Change]) -> Trial:
    trial = Trial()
    found = next(s for s in bench_health.SCENARIOS if s.name == scenario)
    bench_health.score(trial, found, transitions, changes, attempts=7, seconds=1.5)
    return trial


def test_network_failure_scores_the_route_s_exclusion_and_the_trunk_apart() -> None:
    trial = _scored(
        "network-failure",
        [Transition("a", H, E, "CallLoss", "", 0.0)],
        [
            Change(FAILING, "a", H, E, "CallLoss", "", 0.0),
            Change(OTHER, "b", H, E, "CallLoss", "", 0.0),
        ],
    )
    assert (trial.attempts, trial.seconds) == (7, 1.5)
    assert trial.kept_ejected
    assert (trial.false_ejections, trial.false_exclusions) == (0, 1)


def test_network_down_counts_routes_and_trunks_but_not_the_network_as_false() -> None:
    trial = _scored(
        "network-down",
        [Transition("b", H, E, "CallLoss", "", 0.0)],
        [
            Change(FAILING, None, H, E, "NetworkDown", "", 0.0),
            Change(FAILING, "c", H, E, "CallLoss", "", 0.0),
            Change(FAILING, "a", E, H, "NetworkDown", "", 0.0),
        ],
    )
    assert trial.attempts is None
    assert (trial.false_ejections, trial.false_exclusions) == (1, 1)


def test_a_network_found_down_where_it_is_not_is_a_false_exclusion() -> None:
    trial = _scored("outage", [], [Change(FAILING, None, H, E, "NetworkDown", "", 0.0)])
    assert trial.false_exclusions == 1


def _chunk_result(seed: int, cps: float, chunks: int, ejections: dict[str, int]) -> dict[str, Any]:
    """What `--only healthy --json` prints for `chunks` chunks of seed `seed` at `cps`."""
    chunk = {"trunk_weeks": 0.75, "ejections": ejections, "exclusions": {}}
    row = bench_health.healthy_row(cps, [chunk] * chunks, health.DEFAULT_TUNING)
    return {
        "policy": HealthPolicy().model_dump(mode="json", by_alias=True),
        "seed": seed,
        "trials": 200,
        "cpu_seconds": 10.0,
        "scenarios": [row],
    }


def test_healthy_results_split_by_seed_add_up_per_rate() -> None:
    parts = [
        _chunk_result(1, 20, 2, {"CallLoss": 1}),
        _chunk_result(3, 20, 1, {"CallLoss": 1, "AnswerRate": 1}),
        _chunk_result(1, 5, 1, {}),
    ]
    total = bench_health.summed(parts)
    five, twenty = total["scenarios"]
    assert (five["cps"], twenty["cps"]) == (5, 20)
    assert twenty["trials"] == 3 and twenty["trunk_weeks"] == pytest.approx(3 * 0.75)
    assert twenty["false_ejections_by_reason"] == {"AnswerRate": 1, "CallLoss": 3}
    assert twenty["false_ejections_per_trunk_week"] == pytest.approx(4 / 2.25, abs=1e-3)
    assert five["false_ejections"] == 0 and total["cpu_seconds"] == 30.0
    assert "healthy   20" in bench_health.render(total)


def test_a_healthy_chunk_in_two_results_is_refused() -> None:
    with pytest.raises(ValueError, match="both hold the healthy chunk of seed 2 at 20"):
        bench_health.summed([_chunk_result(1, 20, 2, {}), _chunk_result(2, 20, 1, {})])
    bench_health.summed([_chunk_result(1, 20, 2, {}), _chunk_result(2, 5, 1, {})])


def test_only_healthy_rows_of_one_policy_add_up(tmp_path: Path) -> None:
    other = _chunk_result(2, 20, 1, {})
    other["policy"]["probeCalls"] += 1
    with pytest.raises(ValueError, match="different health policies"):
        bench_health.summed([_chunk_result(1, 20, 1, {}), other])
    mixed = _chunk_result(1, 20, 1, {})
    mixed["scenarios"].append(mixed["scenarios"][0] | {"name": "outage"})
    with pytest.raises(ValueError, match="only healthy rows add up"):
        bench_health.summed([mixed])
    (tmp_path / "a.json").write_text(json.dumps(mixed))
    assert bench_health.main(["--sum", str(tmp_path / "a.json")]) == 2
