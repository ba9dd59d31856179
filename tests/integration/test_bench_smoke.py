"""`kdial bench throughput` runs end to end and reports what it promises (speed is its job,
not this test's: nothing here is timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdial_cli.bench import health as bench_health


def test_throughput_bench_reports_its_figures() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kdial_cli",
            "bench",
            "throughput",
            "--duration",
            "4",
            "--rate",
            "10",
            "--burst-rate",
            "20",
            "--burst-seconds",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    for key in (
        "originates_per_second",
        "bgapi_latency_p99_ms",
        "lost_events",
        "claims_per_second",
    ):
        assert key in result, key
    assert result["attempts"] > 0
    assert result["lost_events"] == 0
    assert result["claims_per_second"] > 0


def test_pacing_bench_quick_reports_every_policy_against_the_bound(tmp_path: Path) -> None:
    plot = tmp_path / "pacing.png"
    command = [sys.executable, "-m", "kdial_cli", "bench", "pacing", "--quick", "--json"]
    out = subprocess.run(
        [*command, "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(out.stdout)
    rows = {(r["scenario"], r["policy"]): r for r in result["rows"]}
    policies = {"progressive", "fixed", "fixed-strict", "adapt-average", "erlang-b"}
    policies |= {"predictive", "predictive-strict", "B0"}
    assert {s for s, _ in rows} == {"S1", "S3"}
    assert {p for _, p in rows} == policies
    for scenario in ("S1", "S3"):
        b0 = rows[scenario, "B0"]["talk_min_per_agent_hour"]
        progressive = rows[scenario, "progressive"]
        assert progressive["abandon_daily_max"] == 0.0
        assert progressive["abandon_30min_max"] == 0.0
        for policy in policies - {"B0"}:
            row = rows[scenario, policy]
            assert 0 < row["talk_min_per_agent_hour"] <= b0, policy
            assert row["dials_per_connect"] >= 1.0, policy
        predictive = rows[scenario, "predictive"]
        assert predictive["talk_min_per_agent_hour"] > progressive["talk_min_per_agent_hour"]
        assert predictive["abandon_daily_max"] <= 0.03
        assert rows[scenario, "fixed"]["level"] >= 1.0
    assert {t["target"].split()[0] for t in result["targets"]} >= {"S1", "S3"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figures_do_not_depend_on_the_number_of_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two healthy chunks per rate (the workers fork, and inherit the smaller chunk).
    monkeypatch.setattr(bench_health, "HEALTHY_CHUNK_WEEKS", 0.0001)
    argv = ["--only", "outage", "healthy", "--cps", "5", "20", "--trials", "2"]
    argv += ["--healthy-weeks", "0.0002", "--prelude", "0.2"]
    one = bench_health.run(bench_health.parser().parse_args(argv))
    two = bench_health.run(bench_health.parser().parse_args([*argv, "--jobs", "2"]))
    assert [(r["name"], r["cps"]) for r in one["scenarios"]] == [
        ("outage", 5.0),
        ("healthy", 5.0),
        ("outage", 20.0),
        ("healthy", 20.0),
    ]
    assert one["scenarios"] == two["scenarios"]
    healthy = [r for r in one["scenarios"] if r["name"] == "healthy"]
    assert all(r["trials"] == 2 for r in healthy), "two chunks each"
    assert all(0.0005 < r["trunk_weeks"] < 0.0007 for r in healthy), healthy
