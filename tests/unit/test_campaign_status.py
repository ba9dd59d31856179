"""A campaign's conditions when its lines are gone: Degraded, with the pool named."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kdial.api.campaign import CampaignSpec, CampaignState
from kdial_operator.campaign_reconcile import Referents, gateway_conflict, no_route
from kdial_operator.campaign_status import Facts, decide
from kdial_operator.dataplane import Ledger
from kdial_operator.indexes import Referent, referent

SPEC = CampaignSpec.model_validate(
    {
        "mode": "Agentless",
        "contactListRef": {"name": "leads"},
        "trunkPoolRefs": [{"name": "lines"}, {"name": "backup"}],
        "callerIdPoolRef": {"name": "ids"},
        "destination": {"extension": "9000"},
        "pacing": {"maxConcurrency": 10},
        "schedule": {"windows": [{"start": "09:00", "end": "18:00"}]},
    }
)


def refs(**serving: int | None) -> Referents:
    pools: dict[Any, Any] = {
        ("ns", name): [Referent(True, "", {}, count)] for name, count in serving.items()
    }
    return Referents({}, pools, {})  # type: ignore[arg-type]


def test_no_route_only_when_every_pool_has_every_trunk_ejected() -> None:
    assert no_route("ns", SPEC, refs(lines=0, backup=0)) is not None
    assert "lines, backup" in (no_route("ns", SPEC, refs(lines=0, backup=0)) or "")
    assert no_route("ns", SPEC, refs(lines=0, backup=1)) is None
    assert no_route("ns", SPEC, refs(lines=0, backup=None)) is None, "not judged yet"
    assert no_route("ns", SPEC, refs(lines=0)) is None, "a missing pool is another condition"


def facts(**extra: Any) -> Facts:
    ledger = Ledger(total=10, pending=6, due_now=6, in_flight=0, closed=4, has_epoch=True)
    base: dict[str, Any] = {
        "blocker": None,
        "state": CampaignState.RUNNING,
        "ledger": ledger,
        "workers_ready": 1,
        "schedule_hold": None,
    }
    return Facts(**(base | extra))


def test_a_campaign_with_no_trunk_in_service_is_degraded_with_the_reason() -> None:
    conditions, summary = decide(facts(no_route="no trunk takes calls"))
    degraded = next(c for c in conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason, summary) == (True, "NoTrunkInService", "Degraded")
    conditions, summary = decide(facts())
    assert next(c for c in conditions if c.type == "Degraded").status is False
    assert summary == "Dialing"


def test_a_paused_campaign_whose_workers_were_refused_says_so_instead_of_paused() -> None:
    refused = "the API server refused the worker Deployment 'kdial-worker-promo': 403 Forbidden"
    conditions, summary = decide(facts(state=CampaignState.PAUSED, workers_refused=refused))
    degraded = next(c for c in conditions if c.type == "Degraded")
    dialing = next(c for c in conditions if c.type == "Dialing")
    assert (degraded.status, degraded.reason, degraded.message) == (
        True,
        "WorkersNotWritten",
        refused,
    )
    assert (dialing.reason, summary) == ("Paused", "Degraded")


def test_a_campaign_whose_workers_refuse_its_config_is_degraded_with_their_reason() -> None:
    why = "the campaign config has schemaVersion 2, this worker understands 1 and older; ..."
    conditions, summary = decide(facts(config_refused=why))
    degraded = next(c for c in conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason, degraded.message) == (
        True,
        "WorkersRefuseConfig",
        why,
    )
    assert summary == "Degraded"


def _condition(conditions: list[Any], type_: str) -> Any:
    return next(c for c in conditions if c.type == type_)


def test_counts_in_messages_agree_with_their_number() -> None:
    one = Ledger(total=1, pending=0, due_now=0, in_flight=1, closed=0, has_epoch=True)
    conditions, _ = decide(facts(ledger=one))
    assert _condition(conditions, "Dialing").message == "1 call in flight"
    assert _condition(conditions, "Completed").message == "0 of 1 contact closed"

    done = Ledger(total=1, pending=0, due_now=0, in_flight=0, closed=1, has_epoch=True)
    conditions, _ = decide(facts(ledger=done))
    assert _condition(conditions, "Completed").message == "1 of 1 contact closed"

    many = Ledger(total=10, pending=6, due_now=6, in_flight=3, closed=4, has_epoch=True)
    conditions, _ = decide(facts(ledger=many))
    assert _condition(conditions, "Dialing").message == "3 calls in flight"


def test_a_completed_campaign_whose_contact_data_expired_says_so_and_stays_completed() -> None:
    done = Ledger(total=10, pending=0, due_now=0, in_flight=0, closed=10, has_epoch=True)
    for ledger, expired in ((done, False), (replace(done, expired=True), True)):
        conditions, summary = decide(facts(ledger=ledger))
        completed = next(c for c in conditions if c.type == "Completed")
        assert (completed.status, summary) == (True, "Completed")
        assert ("data has expired" in completed.message) is expired


def pools_of(**trunks: list[dict[str, Any]]) -> Referents:
    """The pools as the TrunkPool index holds them (only the fields a campaign reads)."""
    pools: dict[Any, Any] = {
        ("ns", name): [referent({"trunks": listed}, {})]  # type: ignore[arg-type]
        for name, listed in trunks.items()
    }
    return Referents({}, pools, {})  # type: ignore[arg-type]


def gw(name: str) -> dict[str, Any]:
    return {"name": name, "gateway": {"proxy": f"{name}.example"}}


def test_two_pools_defining_one_gateway_name_block_the_campaign_naming_both() -> None:
    blocker = gateway_conflict(
        "ns", SPEC, pools_of(lines=[gw("a"), gw("b")], backup=[gw("b"), gw("c")])
    )
    assert blocker is not None
    assert (blocker.reason, blocker.summary) == ("GatewayConflict", "Invalid")
    assert "gateway trunk 'b' is in TrunkPools lines, backup" in blocker.message
    assert "'a'" not in blocker.message and "'c'" not in blocker.message
    conditions, summary = decide(facts(blocker=blocker))
    ready = next(c for c in conditions if c.type == "Ready")
    assert (ready.status, ready.reason, summary) == (False, "GatewayConflict", "Invalid")


def test_a_trunk_name_shared_without_a_gateway_or_a_pool_named_twice_is_no_conflict() -> None:
    sip = {"name": "b", "sipUri": "sip:b.example"}
    assert gateway_conflict("ns", SPEC, pools_of(lines=[gw("b")], backup=[sip])) is None
    twice = SPEC.model_copy(update={"trunk_pool_refs": SPEC.trunk_pool_refs[:1] * 2})
    assert gateway_conflict("ns", twice, pools_of(lines=[gw("b")])) is None
