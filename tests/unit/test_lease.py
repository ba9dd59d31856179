"""A lease as the worker vouches for it: from when its claim or renewal was sent, never longer
than Redis gave it, with a margin kept for the hang-up to land."""

from __future__ import annotations

import pytest

from kdial_worker.lease import MARGIN_SHARE, Lease

pytestmark = pytest.mark.unit


def test_a_lease_holds_from_when_its_claim_was_sent_less_the_margin() -> None:
    lease = Lease.taken("a1", started=100.0, seconds=15.0)
    assert not lease.lapsing(100.0)
    assert not lease.lapsing(115.0 - 15.0 * MARGIN_SHARE - 0.01)
    assert lease.lapsing(115.0 - 15.0 * MARGIN_SHARE)
    assert lease.lapsing(200.0), "a worker frozen past its lease finds it lapsed on waking"


def test_a_renewal_extends_from_when_it_was_sent() -> None:
    lease = Lease.taken("a1", started=100.0, seconds=15.0)
    lease.renewed(105.0)
    assert lease.until == 120.0
    assert not lease.lapsing(118.0)


def test_a_late_answer_to_an_older_renewal_never_shortens_the_lease() -> None:
    lease = Lease.taken("a1", started=100.0, seconds=15.0)
    lease.renewed(110.0)
    lease.renewed(105.0)
    assert lease.until == 125.0


def test_a_lease_never_vouched_for_is_lapsing() -> None:
    """A preview's lease until the worker's first renewal of it succeeds."""
    lease = Lease("a1", 15.0, 0.0)
    assert lease.lapsing(1.0)
    lease.renewed(50.0)
    assert not lease.lapsing(50.0)


def test_a_call_outlives_its_lease_until_its_contact_could_be_dialled_again() -> None:
    """Reclaimed at the lease's end at the earliest, the contact is due a reclaim delay later:
    the call is hung up just before, so an outage shorter than that drops no call."""
    lease = Lease.taken("a1", started=100.0, seconds=15.0)
    margin = 15.0 * MARGIN_SHARE
    assert not lease.outlived(114.0, reclaim_delay=300.0)
    assert not lease.outlived(415.0 - margin - 0.01, reclaim_delay=300.0)
    assert lease.outlived(415.0 - margin, reclaim_delay=300.0)
    assert lease.outlived(115.0 - margin, reclaim_delay=0.0), "no delay: at the lease's end"
