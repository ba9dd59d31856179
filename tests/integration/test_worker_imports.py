"""The dialer worker's import weight: a gevent process that counts outcomes does not load the
health judge (the operator's business), which the counter schema once dragged in. numpy it does
load: a predictive campaign's pacer (`kdial.pacing`) runs where the calls are, in the one worker
of the campaign that holds its lease, and its estimators are numpy's."""

from __future__ import annotations

import subprocess
import sys

#: Modules only the operator's judgement needs.
JUDGE_ONLY = ("kdial.routing.health", "kdial.routing.detectors")


def test_the_dialer_loads_the_pacer_but_not_the_health_judge() -> None:
    # A fresh interpreter: this test session has long imported numpy for other tests.
    probe = (
        "import sys, kdial_worker.dialer\n"
        f"print(' '.join(m for m in {JUDGE_ONLY!r} if m in sys.modules))\n"
        "print('kdial.pacing' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    judged, paced = done.stdout.split("\n")[:2]
    assert judged.split() == [], f"the worker imports {judged.strip()}"
    assert paced == "True", "the worker runs its campaign's pacer"
