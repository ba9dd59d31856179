"""`kdial bench health --json`: the shape of its output, on tiny runs (nothing timed)."""

from __future__ import annotations

import json

import pytest

from kdial_cli.bench import health as bench_health

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
    healthy = next(r for r in rows if r["name"] == "healthy")
    assert sum(healthy["false_ejections_by_reason"].values()) == healthy["false_ejections"]
    network = next(r for r in rows if r["name"] == "network-failure")
    assert 0.0 <= network["trunk_ejected"] <= 1.0 and "attempts_to_eject_p95" in network
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
