"""The values on the wire between operator and workers: one codec each, the spec's defaults,
and a schema version a reader refuses when it is newer than it understands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from kdial.agent_state import AgentAction
from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.campaign import CampaignSpec
from kdial.api.trunkpool import Trunk, TrunkPoolSpec, TrunkState
from kdial.state.agents import NEVER_SEEN, AgentChange, AgentRecord, Seat, changed
from kdial.state.caller_ids import CallerIdTable
from kdial.state.config import CampaignConfig
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial.state.seed_marker import SeedMarker
from kdial.state.wire import FIRST_SCHEMA, Generation, NewerSchema, WireValue, refusal
from kdial_operator.compile import campaign_config
from kdial_operator.routing import caller_ids, routing_table
from kdial_worker.runtime import _trunk

SPEC = CampaignSpec.model_validate(
    {
        "mode": "Agentless",
        "contactListRef": {"name": "leads"},
        "trunkPoolRefs": [{"name": "lines"}],
        "callerIdPoolRef": {"name": "ids"},
        "destination": {"extension": "ivr-main"},
        "pacing": {"maxConcurrency": 50},
    }
)
POOL = TrunkPoolSpec.model_validate(
    {
        "trunks": [
            {"name": "a", "gateway": {"proxy": "sip.carrier-a.example"}, "maxConcurrentCalls": 30,
             "maxCallsPerSecond": 5},
            {"name": "b", "sipUri": "10.0.0.5:5060", "maxConcurrentCalls": 4, "priority": 300,
             "maxCallsPerSecond": 2, "regions": ["CN-GD"]},
        ]
    }
)  # fmt: skip
#: The spec as the operator has always written it into the config.
WRITTEN_SPEC = SPEC.model_dump(mode="json", by_alias=True, exclude_none=True)
IDS = CallerIdPoolSpec.model_validate(
    {
        "numbers": [{"number": "+862081234567", "maxCallsPerDay": 200, "region": "Guangzhou"}],
        "defaultNumber": "+862081234567",
        "calleeCooldownDays": 3,
    }
)


def values() -> list[WireValue]:
    return [
        campaign_config("ns", "promo", SPEC, dialing=True),
        routing_table(POOL, {"b": TrunkState.DEGRADED}, "g1", fingerprints={"a": "f1"}),
        caller_ids(IDS, ["+861081234567", "# a comment"])[0],
        SeedMarker(list="ns/leads#0a1b2c3d4e5f", version="3", sample=5),
        *changed(NEVER_SEEN, "ana", AgentAction.LOGIN, 1_700_000_000_000, endpoint="1001"),
        Seat(campaign="promo", at_ms=1_700_000_000_000),
    ]


@pytest.mark.parametrize("value", values(), ids=lambda v: v.KIND)
def test_each_value_reads_back_as_written_with_its_schema_version(value: WireValue) -> None:
    encoded = value.encode()
    assert type(value).decode(encoded) == value
    assert json.loads(encoded)["schemaVersion"] == type(value).SCHEMA_VERSION


def test_a_routing_row_carries_the_specs_defaults_state_and_weight() -> None:
    table = RoutingTable.decode(routing_table(POOL, {"b": TrunkState.DEGRADED}).encode())
    a, b = table.trunks
    assert (a.priority, a.cost_per_minute_micros, a.regions) == (
        Trunk.model_fields["priority"].default,
        Trunk.model_fields["cost_per_minute_micros"].default,
        [],
    )
    assert (a.state, b.state) == (TrunkState.HEALTHY, TrunkState.DEGRADED)
    assert (a.weight, b.weight) == (1000, 1500), "priority 300, Degraded: half of 3000"
    assert b.sip_uri == "10.0.0.5:5060" and b.gateway is None


def test_a_gateway_trunks_row_carries_its_gateways_fingerprint_and_the_worker_reads_it() -> None:
    table = routing_table(POOL, {}, "g1", fingerprints={"a": "f1", "b": "stray"})
    a, b = RoutingTable.decode(table.encode()).trunks
    assert (a.gateway_fingerprint, b.gateway_fingerprint) == ("f1", ""), "b has no gateway"
    assert json.loads(table.encode())["trunks"][0]["gatewayFingerprint"] == "f1"
    assert _trunk(PoolKeys("tp", "ns", "lines"), a).gateway_fingerprint == "f1"


def test_the_caller_id_table_takes_numbers_from_the_config_map_after_the_inline_ones() -> None:
    table, problems = caller_ids(IDS, ["+861081234567", "+862081234567", "12345"])
    assert [n.number for n in table.numbers] == ["+862081234567", "+861081234567"]
    assert table.numbers[1].max_calls_per_day is None and not table.numbers[1].verified
    assert (table.default_number, table.callee_cooldown_days) == ("+862081234567", 3)
    assert problems == ["line 3: not an E.164 number"]


# What operators wrote before values carried `schemaVersion`: still read, as schema 1.
BEFORE_SCHEMA_VERSIONS: list[tuple[type[WireValue], dict[str, Any]]] = [
    (
        RoutingTable,
        {
            "trunks": [
                {"name": "a", "sipUri": "10.0.0.5:5060", "maxConcurrentCalls": 3,
                 "maxCallsPerSecond": 1, "regions": [], "carriers": [], "costPerMinuteMicros": 0,
                 "priority": 100, "state": "Healthy", "weight": 1000}
            ]
        },
    ),
    (
        CallerIdTable,
        {
            "numbers": [{"number": "+862081234567", "verified": False}],
            "selection": {"order": ["City"], "preferVerified": True},
            "calleeCooldownDays": 0,
            "quarantine": {"belowPoolPercent": 50, "minSamples": 50, "coolingHours": 24},
        },
    ),
    (
        CampaignConfig,
        {"campaign": "ns/promo", "dialing": False, "spec": WRITTEN_SPEC},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "content"),
    BEFORE_SCHEMA_VERSIONS,
    ids=["routing table", "caller-ID table", "campaign config"],
)
def test_a_value_from_before_schema_versions_reads_as_the_first(
    model: type[WireValue], content: dict[str, Any]
) -> None:
    assert FIRST_SCHEMA == 1
    value = model.decode(json.dumps(content))
    encoded = json.loads(value.encode())
    # Written again under this code's schema, with the fields added since at their defaults.
    assert encoded["schemaVersion"] == model.SCHEMA_VERSION
    assert _as_written(encoded, content) == content


def _as_written(encoded: Any, content: Any) -> Any:
    """`encoded` without the fields added since `content` was written, at any depth."""
    if isinstance(content, dict):
        return {name: _as_written(encoded[name], value) for name, value in content.items()}
    if isinstance(content, list):
        return [_as_written(e, c) for e, c in zip(encoded, content, strict=True)]
    return encoded


@pytest.mark.parametrize(
    ("model", "content", "field"),
    [
        (CampaignConfig, {"campaign": "ns/promo", "spec": WRITTEN_SPEC},
         "dialing"),
        (RoutingTable, {"trunks": [{"name": "a", "sipUri": "gw", "maxConcurrentCalls": 3,
                                    "maxCallsPerSecond": 1, "state": "Healthy"}]}, "weight"),
        (CallerIdTable, {"numbers": []}, "selection"),
    ],
)  # fmt: skip
def test_a_missing_field_is_refused_not_defaulted_twice(
    model: type[WireValue], content: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        model.decode(json.dumps(content))


def test_an_unknown_field_is_refused_a_writer_that_adds_one_bumps_the_version() -> None:
    content = json.loads(campaign_config("ns", "promo", SPEC, dialing=True).encode())
    with pytest.raises(ValidationError, match="pauseReason"):
        CampaignConfig.decode(json.dumps(content | {"pauseReason": "later"}))


def test_the_refusal_of_a_newer_schema() -> None:
    assert refusal("campaign config", 1, 1) is None
    assert refusal("campaign config", 1, 2) is None
    assert refusal("campaign config", 2, 1) == (
        "the campaign config has schemaVersion 2, this worker understands 1 and older; "
        "upgrade the worker image to the operator's"
    )
    for odd in (0, -1, True, "1", None, 1.5):
        assert refusal("routing table", odd, 1) is not None, odd


@pytest.mark.parametrize(
    "model", [CampaignConfig, RoutingTable, CallerIdTable, AgentRecord, AgentChange, Seat]
)
def test_a_newer_value_is_refused_before_any_field_is_read(model: type[WireValue]) -> None:
    """Whatever a newer writer changed, the reader says the schema is newer, not that a field
    is malformed."""
    newer = {"schemaVersion": model.SCHEMA_VERSION + 1, "everything": "different"}
    with pytest.raises(NewerSchema, match=f"the {model.KIND} has schemaVersion"):
        model.decode(json.dumps(newer))


def test_a_generation_wraps_the_content_and_counts_its_changes_apart() -> None:
    value = campaign_config("ns", "promo", SPEC, dialing=True)
    stored = Generation(7, value.content()).encode()
    assert set(json.loads(stored)) == {"version", "content"}
    back = Generation.decode(stored)
    assert back.version == 7
    assert CampaignConfig.of(back.content) == value


@pytest.mark.parametrize("raw", ["{}", '{"version": 1}', "[]", "not json"])
def test_a_malformed_generation_is_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        Generation.decode(raw)


def test_a_seed_marker_as_written_before_is_the_same_marker() -> None:
    """Else every campaign would seed its list again after an upgrade."""
    before = json.dumps({"list": "ns/leads#0a1b2c3d4e5f", "sample": None, "version": "3"})
    assert SeedMarker.decode(before) == SeedMarker(list="ns/leads#0a1b2c3d4e5f", version="3")
    with pytest.raises(ValidationError, match="list"):
        SeedMarker.decode(json.dumps({"version": "3", "sample": None}))


def test_a_routing_table_carries_the_routes_out_of_health_and_the_networks_down() -> None:
    spec = TrunkPoolSpec.model_validate(
        {
            "trunks": [
                {"name": n, "sipUri": "10.0.0.5", "maxConcurrentCalls": 3, "maxCallsPerSecond": 1}
                for n in "ab"
            ]
        }
    )
    table = routing_table(
        spec,
        {},
        routes={"a": {"cn-china-unicom": TrunkState.EJECTED}},
        down={"cn-china-telecom": 1_000.5},
    )
    back = RoutingTable.decode(table.encode())
    assert back.trunks[0].networks == {"cn-china-unicom": TrunkState.EJECTED}
    assert back.trunks[1].networks == {} and back.trunks[0].weight == back.trunks[1].weight
    assert back.networks_down == {"cn-china-telecom": 1_000_500}
