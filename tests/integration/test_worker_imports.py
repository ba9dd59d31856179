"""The dialer worker's import weight: a gevent process that counts outcomes does not load the
health judge nor numpy (the operator's business), which the counter schema once dragged in."""

from __future__ import annotations

import subprocess
import sys

#: Modules only the operator's judgement needs.
JUDGE_ONLY = ("numpy", "kdial.routing.health", "kdial.routing.detectors")


def test_the_dialer_loads_neither_numpy_nor_the_health_judge() -> None:
    # A fresh interpreter: this test session has long imported numpy for other tests.
    probe = (
        "import sys, kdial_worker.dialer\n"
        f"print(' '.join(m for m in {JUDGE_ONLY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == [], f"the worker imports {done.stdout.strip()}"
