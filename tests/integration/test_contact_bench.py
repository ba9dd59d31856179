"""`kdial bench import` runs end to end and prints what the checks read (a small list here; the
1,000,000-row figure is the bench's to measure, not a test's)."""

from __future__ import annotations

import json
import subprocess

from kdial_local.processes import kdial


def test_bench_import_prints_the_interface_fields() -> None:
    out = subprocess.run(
        kdial("bench", "import", "--rows", "5000", "--json"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out)

    assert result["rows"] == 5000
    assert result["rows_per_second"] > 0
    assert 0 < result["peak_rss_mb"] < 1024
    assert result["imported"] + result["rejected"] + result["duplicates"] == 5000
    assert result["rejected"] == result["generated_invalid"] > 0
    assert result["duplicates"] >= result["generated_duplicates"] > 0
