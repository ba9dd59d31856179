"""Pacing for campaigns with agents: how many calls to launch now (pure, no I/O).

A pacer sees what a worker sees live (`Snapshot`: agents Ready, Talking, in WrapUp, calls
ringing, answered calls waiting for an agent, and the outcomes since the last look) and
answers one number: the calls to launch now. `ProgressivePacer` dials one call per Ready agent
and never abandons; `PredictivePacer` dials ahead of the agents who are about to be free, so
that the expected abandoned calls stay within the campaign's budget (`ComplianceMode`).
"""

from kdial.pacing.abandon import REGULATORY, STRICT, AbandonWindow, Brake, ComplianceMode
from kdial.pacing.predictive import PredictivePacer, Tuning
from kdial.pacing.progressive import ProgressivePacer, progressive_launches
from kdial.pacing.snapshot import Outcomes, Pacer, Snapshot

__all__ = [
    "REGULATORY",
    "STRICT",
    "AbandonWindow",
    "Brake",
    "ComplianceMode",
    "Outcomes",
    "Pacer",
    "PredictivePacer",
    "ProgressivePacer",
    "Snapshot",
    "Tuning",
    "progressive_launches",
]
