"""`kdial bench throughput` runs end to end and reports what it promises (speed is its job,
not this test's: nothing here is timed)."""

from __future__ import annotations

import json
import subprocess
import sys


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
