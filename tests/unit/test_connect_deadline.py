"""kdial_worker.calls.connect_deadline: how long an answered callee may wait to be connected."""

from __future__ import annotations

from typing import Any

from kdial.api.campaign import CampaignSpec
from kdial_worker.calls import connect_deadline

REFS: dict[str, Any] = {
    "contactListRef": {"name": "leads"},
    "trunkPoolRefs": [{"name": "lines"}],
    "callerIdPoolRef": {"name": "ids"},
}


def spec(**fields: Any) -> CampaignSpec:
    return CampaignSpec.model_validate(
        {"mode": "Agentless", "pacing": {"maxConcurrency": 5}, **REFS} | fields
    )


def test_an_ivr_extension_takes_the_call_at_answer() -> None:
    assert connect_deadline(spec(destination={"extension": "9000"})) is None


def test_a_bridge_to_a_sip_uri_has_the_campaigns_connect_deadline() -> None:
    campaign = spec(
        destination={"sipUri": "sip:bot@voice.example"},
        pacing={
            "maxConcurrency": 5,
            "connectDeadlineSeconds": 4,
            "abandonMessage": "kdial/abandoned.wav",
        },
    )
    assert connect_deadline(campaign) == 4


def test_nowhere_to_go_is_abandoned_at_once_never_parked_in_silence() -> None:
    # An Agentless spec without a destination, which validation refuses and a config written
    # by another operator could still carry.
    ivr = spec(destination={"extension": "9000"})
    assert connect_deadline(ivr.model_copy(update={"destination": None})) == 0


def test_an_answered_callee_waits_for_an_agent_the_campaigns_connect_deadline() -> None:
    assert connect_deadline(spec(mode="Progressive")) == 2, "the default"
    assert connect_deadline(spec(mode="Progressive", pacing={"connectDeadlineSeconds": 5})) == 5
