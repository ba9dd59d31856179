"""TrunkPool and CallerIdPool specs: defaults, cross-field (CEL) rules, field-level rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.crd import crd_manifest
from kdial.api.kinds import CALLER_ID_POOL, TRUNK_POOL, Kind
from kdial.api.meta import explain
from kdial.api.trunkpool import TrunkPoolSpec

GATEWAY_OR_URI_MSG = "set exactly one of gateway and sipUri"
EJECT_MSG = "maxEjectSeconds must be at least ejectSeconds"
REGISTER_MSG = "a gateway that registers needs authSecretRef (the account's username and password)"
OWN_HEADER_MSG = "FreeSWITCH writes this header itself; name another"
GATEWAY = {"proxy": "sip.carrier-a.example"}
NUMBERS_MSG = "a pool needs numbers or numbersFrom"


def trunk(name: str = "carrier-a", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "gateway": GATEWAY,
        "maxConcurrentCalls": 30,
        "maxCallsPerSecond": 10,
    }
    return {key: value for key, value in {**base, **fields}.items() if value is not None}


def trunk_pool(*trunks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"trunks": list(trunks) or [trunk()], **fields}


def number(value: str = "+8620123456789", **fields: Any) -> dict[str, Any]:
    return {"number": value, **fields}


def caller_id_pool(**fields: Any) -> dict[str, Any]:
    return {"numbers": [number()], **fields}


def rejection(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return explain(info.value)


def rule_messages(kind: Kind) -> set[str]:
    def walk(node: dict[str, Any]) -> set[str]:
        found = {rule["message"] for rule in node.get("x-kubernetes-validations", [])}
        for child in node.get("properties", {}).values():
            found |= walk(child)
        if "items" in node:
            found |= walk(node["items"])
        return found

    schema = crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return walk(schema["properties"]["spec"])


# TrunkPool


def test_minimal_trunk_pool_gets_documented_defaults() -> None:
    pool = TrunkPoolSpec.model_validate(trunk_pool()).model_dump(by_alias=True, mode="json")

    assert pool["health"] == {
        "windowSeconds": 300,
        "minSamples": 20,
        "asrFloorPercent": 5,
        "callLossCeilingPercent": 20,
        "ejectSeconds": 60,
        "maxEjectSeconds": 600,
        "probeCalls": 5,
    }
    assert pool["trunks"] == [
        {
            "name": "carrier-a",
            "gateway": {
                "proxy": "sip.carrier-a.example",
                "realm": None,
                "transport": "udp",
                "register": False,
                "authSecretRef": None,
                "callerIdIn": "From",
                "headers": [],
            },
            "sipUri": None,
            "maxConcurrentCalls": 30,
            "maxCallsPerSecond": 10,
            "regions": [],
            "carriers": [],
            "costPerMinuteMicros": 0,
            "priority": 100,
        }
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            trunk_pool(
                trunk(
                    gateway={
                        "proxy": "10.0.0.5:5080",
                        "realm": "carrier-a.example",
                        "transport": "tls",
                        "register": True,
                        "authSecretRef": {"name": "carrier-a", "passwordKey": "pw"},
                        "callerIdIn": "PAssertedIdentity",
                        "headers": [
                            {"name": "X-Account", "value": "team 7: a/b@c.example"},
                            {"name": "P-Charge-Info", "value": "sip:+8620123456@carrier.example"},
                        ],
                    }
                )
            ),
            id="gateway",
        ),
        pytest.param(
            trunk_pool(trunk(gateway=None, sipUri="sip.carrier.example:5060")), id="sip-uri"
        ),
        pytest.param(
            trunk_pool(trunk(gateway=None, sipUri="SIP.Carrier-1.example:65535")),
            id="sip-uri-any-case-top-port",
        ),
        pytest.param(
            trunk_pool(trunk("a"), trunk("b", gateway=None, sipUri="10.0.0.5:5060"), trunk("c")),
            id="unique-names",
        ),
        pytest.param(
            trunk_pool(health={"ejectSeconds": 600, "maxEjectSeconds": 600}), id="eject-equal"
        ),
        pytest.param(trunk_pool(health={"maxEjectSeconds": 60}), id="max-eject-default-eject"),
        pytest.param(
            trunk_pool(health={"ejectSeconds": 30, "maxEjectSeconds": 3600}), id="eject-range"
        ),
        pytest.param(
            trunk_pool(trunk(regions=["CN", "CN-GD"], carriers=["China Mobile"])),
            id="regions-carriers",
        ),
    ],
)
def test_trunk_pool_rules_accept(data: dict[str, Any]) -> None:
    TrunkPoolSpec.model_validate(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            trunk_pool(trunk(sipUri="sip.carrier.example")),
            f"spec.trunks[0]: {GATEWAY_OR_URI_MSG}",
            id="gateway-and-sip-uri",
        ),
        pytest.param(
            trunk_pool(trunk("a"), trunk("b", gateway=None)),
            f"spec.trunks[1]: {GATEWAY_OR_URI_MSG}",
            id="neither-gateway-nor-sip-uri",
        ),
        pytest.param(
            trunk_pool(trunk("a"), trunk("b"), trunk("a", sipUri="other.example", gateway=None)),
            "spec.trunks: duplicate name 'a'",
            id="duplicate-names",
        ),
        pytest.param(
            trunk_pool(trunk(gateway={**GATEWAY, "register": True})),
            f"spec.trunks[0].gateway.authSecretRef: {REGISTER_MSG}",
            id="register-without-credentials",
        ),
        pytest.param(
            trunk_pool(trunk(gateway={**GATEWAY, "headers": [{"name": "from", "value": "1"}]})),
            f"spec.trunks[0].gateway.headers[0].name: {OWN_HEADER_MSG}",
            id="own-header",
        ),
        pytest.param(
            trunk_pool(health={"ejectSeconds": 600, "maxEjectSeconds": 599}),
            f"spec.health.maxEjectSeconds: {EJECT_MSG}",
            id="max-eject-below-eject",
        ),
        pytest.param(
            trunk_pool(health={"ejectSeconds": 900}),
            f"spec.health.maxEjectSeconds: {EJECT_MSG}",
            id="eject-above-default-max",
        ),
    ],
)
def test_trunk_pool_rules_refuse(data: dict[str, Any], expected: str) -> None:
    assert rejection(TrunkPoolSpec, data) == expected


def test_every_trunk_pool_rule_has_a_refusing_case() -> None:
    assert rule_messages(TRUNK_POOL) == {
        GATEWAY_OR_URI_MSG,
        EJECT_MSG,
        REGISTER_MSG,
        OWN_HEADER_MSG,
    }


HOSTILE = [
    'a"/><param name="register" value="true',
    "$${esl_password}",
    "${system(id)}",
    "x}sofia/gateway/evil/1",
    "a,b",
    "a|b",
    "a'b",
    "a<b",
    "a&amp;b",
    "a\nb",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("field", "gateway"),
    [
        ("proxy", lambda v: {"proxy": v}),
        ("realm", lambda v: {**GATEWAY, "realm": v}),
        ("headers[0].name", lambda v: {**GATEWAY, "headers": [{"name": v, "value": "1"}]}),
        ("headers[0].value", lambda v: {**GATEWAY, "headers": [{"name": "X-A", "value": v}]}),
        ("authSecretRef.name", lambda v: {**GATEWAY, "authSecretRef": {"name": v}}),
        (
            "authSecretRef.passwordKey",
            lambda v: {**GATEWAY, "authSecretRef": {"name": "s", "passwordKey": v}},
        ),
    ],
)
def test_gateway_values_refuse_markup_variables_and_dial_string_syntax(
    field: str, gateway: Any, value: str
) -> None:
    data = trunk_pool(trunk(gateway=gateway(value)))
    assert rejection(TrunkPoolSpec, data).startswith(f"spec.trunks[0].gateway.{field}: ")


def test_at_most_sixteen_headers_each_name_once() -> None:
    headers = [{"name": f"X-H{i}", "value": "1"} for i in range(17)]
    data = trunk_pool(trunk(gateway={**GATEWAY, "headers": headers}))
    assert rejection(TrunkPoolSpec, data).startswith("spec.trunks[0].gateway.headers: ")
    twice = [{"name": "X-A", "value": "1"}, {"name": "X-A", "value": "2"}]
    data = trunk_pool(trunk(gateway={**GATEWAY, "headers": twice}))
    assert rejection(TrunkPoolSpec, data) == "spec.trunks[0].gateway.headers: duplicate name 'X-A'"


@pytest.mark.parametrize(
    "uri",
    [
        "sip:carrier.example;transport=tcp",
        "carrier.example,10.0.0.6",
        "carrier.example/x",
        "carrier.example 5060",
        "carrier.example\n",
        "",
        # Not a host[:port] a carrier could have: each label and the port are checked.
        "-carrier.example",
        "carrier..example",
        "carrier.example.",
        "carrier_a.example",
        "carrier.example:0",
        "carrier.example:65536",
        "carrier.example:",
        "a" * 64 + ".example",
    ],
)
def test_trunk_sip_uri_refuses_dial_string_syntax(uri: str) -> None:
    data = trunk_pool(trunk(gateway=None, sipUri=uri))

    assert rejection(TrunkPoolSpec, data).startswith("spec.trunks[0].sipUri: ")
    # The API server refuses it too. Its Go regexp (RE2) anchors `$` at the very end, as `\Z`
    # does here; Python's `$` would also match before a final newline.
    crd = crd_manifest(TRUNK_POOL)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    field = crd["properties"]["spec"]["properties"]["trunks"]["items"]["properties"]["sipUri"]
    assert field["pattern"].endswith("$")
    assert re.search(field["pattern"][:-1] + r"\Z", uri) is None


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(trunk_pool(trunk("Carrier-A")), "spec.trunks[0].name", id="name-upper"),
        pytest.param(trunk_pool(trunk("carrier_a")), "spec.trunks[0].name", id="name-underscore"),
        pytest.param(trunk_pool(trunk("-a")), "spec.trunks[0].name", id="name-leading-dash"),
        pytest.param(trunk_pool(trunk("a" * 64)), "spec.trunks[0].name", id="name-64"),
        pytest.param(
            trunk_pool(trunk(maxConcurrentCalls=0)),
            "spec.trunks[0].maxConcurrentCalls",
            id="concurrent-0",
        ),
        pytest.param(
            trunk_pool(trunk(maxCallsPerSecond=0)),
            "spec.trunks[0].maxCallsPerSecond",
            id="cps-0",
        ),
        pytest.param(
            trunk_pool(trunk(maxCallsPerSecond=1001)),
            "spec.trunks[0].maxCallsPerSecond",
            id="cps-1001",
        ),
        pytest.param(
            trunk_pool(trunk(costPerMinuteMicros=-1)),
            "spec.trunks[0].costPerMinuteMicros",
            id="cost-negative",
        ),
        pytest.param(trunk_pool(trunk(priority=1001)), "spec.trunks[0].priority", id="priority"),
        pytest.param({"trunks": []}, "spec.trunks", id="no-trunks"),
        pytest.param({}, "spec.trunks", id="trunks-missing"),
        pytest.param(
            trunk_pool(health={"windowSeconds": 29}), "spec.health.windowSeconds", id="window-29"
        ),
        pytest.param(
            trunk_pool(health={"minSamples": 0}), "spec.health.minSamples", id="min-samples-0"
        ),
        pytest.param(
            trunk_pool(health={"asrFloorPercent": 101}),
            "spec.health.asrFloorPercent",
            id="asr-floor-101",
        ),
        pytest.param(
            trunk_pool(health={"callLossCeilingPercent": 0}),
            "spec.health.callLossCeilingPercent",
            id="call-loss-ceiling-0",
        ),
        pytest.param(
            trunk_pool(health={"ejectSeconds": 4}), "spec.health.ejectSeconds", id="eject-4"
        ),
        pytest.param(
            trunk_pool(health={"probeCalls": 0}), "spec.health.probeCalls", id="probe-calls-0"
        ),
    ],
)
def test_trunk_pool_field_rules_refuse(data: dict[str, Any], path: str) -> None:
    assert rejection(TrunkPoolSpec, data).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(trunk_pool(routing="weighted"), "spec.routing", id="spec"),
        pytest.param(trunk_pool(trunk(maxCps=5)), "spec.trunks[0].maxCps", id="trunk"),
        pytest.param(
            trunk_pool(health={"ejectMinutes": 1}), "spec.health.ejectMinutes", id="health"
        ),
    ],
)
def test_trunk_pool_unknown_fields_are_refused(data: dict[str, Any], path: str) -> None:
    assert rejection(TrunkPoolSpec, data) == f"{path}: Extra inputs are not permitted"


# CallerIdPool


def test_minimal_caller_id_pool_gets_documented_defaults() -> None:
    pool = CallerIdPoolSpec.model_validate(caller_id_pool()).model_dump(by_alias=True, mode="json")

    assert pool["selection"] == {
        "order": ["City", "Province", "Capital", "Default"],
        "preferVerified": True,
    }
    assert pool["quarantine"] == {"belowPoolPercent": 50, "minSamples": 50, "coolingHours": 24}
    assert pool["calleeCooldownDays"] == 0
    assert pool["numbersFrom"] is None
    assert pool["defaultNumber"] is None
    assert pool["numbers"] == [
        {
            "number": "+8620123456789",
            "region": None,
            "type": None,
            "maxConcurrentCalls": None,
            "maxCallsPerDay": None,
            "verified": False,
        }
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(caller_id_pool(), id="numbers"),
        pytest.param({"numbersFrom": {"name": "pool-numbers", "key": "numbers.txt"}}, id="from"),
        pytest.param(
            {"numbers": [], "numbersFrom": {"name": "pool-numbers", "key": "numbers.txt"}},
            id="from-with-empty-numbers",
        ),
        pytest.param(
            caller_id_pool(numbersFrom={"name": "more", "key": "n"}), id="numbers-and-from"
        ),
        pytest.param(
            caller_id_pool(
                numbers=[
                    number("+8620123456789", region="CN-GD", type="Landline", verified=True),
                    number("+8613800138000", type="Mobile", maxCallsPerDay=200),
                    number("+8004001234", type="TollFree", maxConcurrentCalls=5),
                ],
                defaultNumber="+8620123456789",
                selection={"order": ["Province", "Default"], "preferVerified": False},
            ),
            id="full",
        ),
    ],
)
def test_caller_id_pool_rules_accept(data: dict[str, Any]) -> None:
    CallerIdPoolSpec.model_validate(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="neither"),
        pytest.param({"numbers": []}, id="empty-numbers"),
        pytest.param({"defaultNumber": "+8620123456789"}, id="default-number-only"),
    ],
)
def test_caller_id_pool_needs_numbers(data: dict[str, Any]) -> None:
    assert rejection(CallerIdPoolSpec, data) == f"spec.numbers: {NUMBERS_MSG}"


def test_every_caller_id_pool_rule_has_a_refusing_case() -> None:
    assert rule_messages(CALLER_ID_POOL) == {NUMBERS_MSG}


@pytest.mark.parametrize(
    "value",
    [
        "8620123456789",
        "+08620123456789",
        "+86 20 1234 5678",
        "+86-20-12345678",
        "+12345",
        "+1234567890123456",
        "+8620123456789\n",
        "+8620123456789;x",
        "tel:+8620123456789",
        "",
    ],
)
def test_caller_ids_are_e164(value: str) -> None:
    assert rejection(CallerIdPoolSpec, caller_id_pool(numbers=[number(value)])).startswith(
        "spec.numbers[0].number: "
    )
    assert rejection(CallerIdPoolSpec, caller_id_pool(defaultNumber=value)).startswith(
        "spec.defaultNumber: "
    )


@pytest.mark.parametrize("value", ["+1234567", "+123456789012345", "+8620123456789"])
def test_e164_length_bounds_accept(value: str) -> None:
    CallerIdPoolSpec.model_validate(caller_id_pool(numbers=[number(value)]))


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(
            caller_id_pool(numbers=[number(type="mobile")]), "spec.numbers[0].type", id="type"
        ),
        pytest.param(
            caller_id_pool(numbers=[number(maxConcurrentCalls=0)]),
            "spec.numbers[0].maxConcurrentCalls",
            id="concurrent-0",
        ),
        pytest.param(
            caller_id_pool(numbers=[number(maxCallsPerDay=0)]),
            "spec.numbers[0].maxCallsPerDay",
            id="per-day-0",
        ),
        pytest.param(
            caller_id_pool(selection={"order": ["Country"]}),
            "spec.selection.order[0]",
            id="order-unknown",
        ),
        pytest.param(
            caller_id_pool(selection={"order": ["city"]}),
            "spec.selection.order[0]",
            id="order-lowercase",
        ),
        pytest.param(
            caller_id_pool(selection={"order": []}), "spec.selection.order", id="order-empty"
        ),
        pytest.param(
            caller_id_pool(calleeCooldownDays=91), "spec.calleeCooldownDays", id="cooldown-91"
        ),
        pytest.param(
            caller_id_pool(quarantine={"belowPoolPercent": 0}),
            "spec.quarantine.belowPoolPercent",
            id="quarantine-0",
        ),
        pytest.param(
            caller_id_pool(quarantine={"coolingHours": 0}),
            "spec.quarantine.coolingHours",
            id="cooling-0",
        ),
        pytest.param(
            {"numbersFrom": {"name": "pool-numbers", "key": "a/b"}},
            "spec.numbersFrom.key",
            id="config-map-key-slash",
        ),
        pytest.param(
            {"numbersFrom": {"name": "Pool", "key": "n"}},
            "spec.numbersFrom.name",
            id="config-map-name-upper",
        ),
        pytest.param({"numbersFrom": {"name": "pool"}}, "spec.numbersFrom.key", id="key-missing"),
    ],
)
def test_caller_id_pool_field_rules_refuse(data: dict[str, Any], path: str) -> None:
    assert rejection(CallerIdPoolSpec, data).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(caller_id_pool(strategy="random"), "spec.strategy", id="spec"),
        pytest.param(
            caller_id_pool(numbers=[number(carrier="China Mobile")]),
            "spec.numbers[0].carrier",
            id="number",
        ),
        pytest.param(
            caller_id_pool(selection={"random": True}), "spec.selection.random", id="selection"
        ),
        pytest.param(
            caller_id_pool(quarantine={"enabled": True}), "spec.quarantine.enabled", id="quarantine"
        ),
    ],
)
def test_caller_id_pool_unknown_fields_are_refused(data: dict[str, Any], path: str) -> None:
    assert rejection(CallerIdPoolSpec, data) == f"{path}: Extra inputs are not permitted"
