"""originate_timeout in whole seconds, as the real switch counts it (tests/data measured)."""

from __future__ import annotations

from typing import Any

import pytest

from kdial_sim.calls import whole_second_timeout
from tests.support.freeswitch import measured

ROWS = measured()["originate_timeout"]
#: How late the real switch's originate loop noticed its tick (5.04 s for 5).
LOOP_LAG = 0.05


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['timeout']}s")
def test_the_measured_times_lie_in_the_models_window(row: dict[str, Any]) -> None:
    timeout = row["timeout"]
    low, high = row["fired"]
    assert timeout - 1 < low <= high <= timeout + LOOP_LAG
    # Every moment measured is one the model gives for some start within the second.
    for fired in (low, high):
        fraction = (timeout - min(fired, timeout)) % 1
        created_us = 1_795_446_936_000_000 + round(fraction * 1_000_000)
        assert whole_second_timeout(timeout, created_us) == pytest.approx(min(fired, timeout))


@pytest.mark.parametrize("timeout", [1, 5, 10, 20])
@pytest.mark.parametrize("fraction_us", [0, 1, 145_000, 500_000, 855_000, 999_999])
def test_the_timeout_fires_on_the_next_whole_second_after_t_minus_one(
    timeout: int, fraction_us: int
) -> None:
    created_us = 1_795_446_936_000_000 + fraction_us
    fires = whole_second_timeout(timeout, created_us)
    assert timeout - 1 < fires <= timeout
    assert (created_us + fires * 1_000_000) % 1_000_000 == pytest.approx(0, abs=1)
