"""Campaign spec: documented defaults, every cross-field (CEL) rule, field-level rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kdial.api.campaign import ABANDON_MESSAGE_RULE, CampaignSpec
from kdial.api.crd import crd_manifest
from kdial.api.kinds import CAMPAIGN
from kdial.api.meta import explain

REFS: dict[str, Any] = {
    "contactListRef": {"name": "leads-2026"},
    "trunkPoolRefs": [{"name": "carrier-a"}],
    "callerIdPoolRef": {"name": "local-numbers"},
}
MINIMAL: dict[str, Any] = {"mode": "Predictive", **REFS}
AGENTLESS: dict[str, Any] = {
    "mode": "Agentless",
    **REFS,
    "destination": {"extension": "ivr-main"},
    "pacing": {"maxConcurrency": 50},
}

WINDOW_MSG = "end must be after start (a window cannot wrap past midnight: split it in two)"
TIMES_MSG = "endTime must be after startTime"
RATIO_MSG = "maxDialRatio must be at least 1"
OUTCOMES_MSG = "each outcome may have one retry rule only"
WORKERS_MSG = "min must not exceed max"
DESTINATION_MSG = "set exactly one of extension and sipUri"
AGENTLESS_DESTINATION_MSG = "an Agentless campaign needs destination: where answered calls go"
AGENTLESS_CONCURRENCY_MSG = "an Agentless campaign needs pacing.maxConcurrency"
ABANDON_MESSAGE_MSG = ABANDON_MESSAGE_RULE
DISPOSITION_MSG = "a code cannot both close the contact and ask for a call-back"


def spec(**fields: Any) -> dict[str, Any]:
    return {**MINIMAL, **fields}


def windows(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"windows": [{"start": start, "end": end} for start, end in pairs]}


def rejection(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        CampaignSpec.model_validate(data)
    return explain(info.value)


def test_minimal_campaign_gets_documented_defaults() -> None:
    campaign = CampaignSpec.model_validate(MINIMAL).model_dump(by_alias=True, mode="json")

    assert campaign["state"] == "Running"
    assert campaign["priority"] == 100
    assert campaign["suppressionListRefs"] == []
    assert campaign["trial"] is None
    assert campaign["destination"] is None
    assert campaign["schedule"] == {
        "windows": [
            {
                "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                "start": "09:00",
                "end": "20:00",
            }
        ],
        "fallbackTimeZone": None,
        "startTime": None,
        "endTime": None,
    }
    assert campaign["pacing"] == {
        "maxConcurrency": None,
        "maxDialRatio": None,
        "maxAbandonPercent": 3,
        "connectDeadlineSeconds": 2,
        "abandonMessage": None,
        "ringTimeoutSeconds": 30,
        "maxCallDurationSeconds": 3600,
    }
    assert campaign["retry"] == {
        "rules": [
            {"outcome": "CallLoss", "delayMinutes": 0, "maxAttempts": None},
            {"outcome": "Busy", "delayMinutes": 10, "maxAttempts": None},
            {"outcome": "NoAnswer", "delayMinutes": 60, "maxAttempts": None},
        ],
        "closure": {"maxAttempts": 3, "withinDays": None},
    }
    assert campaign["workers"] == {"min": 0, "max": 10}
    assert campaign["retention"] == {"contactDataDays": 30}


def test_defaults_are_not_shared_between_campaigns() -> None:
    first = CampaignSpec.model_validate(MINIMAL)
    first.schedule.windows[0].days.pop()
    first.retry.rules.pop()

    second = CampaignSpec.model_validate(MINIMAL)

    assert len(second.schedule.windows[0].days) == 7
    assert len(second.retry.rules) == 3


def test_a_window_given_without_days_applies_every_day() -> None:
    campaign = CampaignSpec.model_validate(spec(schedule=windows(("10:00", "12:00"))))

    assert [str(day) for day in campaign.schedule.windows[0].days] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]


def test_field_names_are_accepted_as_well_as_wire_names() -> None:
    campaign = CampaignSpec.model_validate(
        {
            "mode": "Preview",
            "contact_list_ref": {"name": "leads"},
            "trunk_pool_refs": [{"name": "carrier-a"}],
            "caller_id_pool_ref": {"name": "local-numbers"},
        }
    )

    assert campaign.contact_list_ref.name == "leads"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(spec(schedule=windows(("09:00", "20:00"))), id="window-day"),
        pytest.param(spec(schedule=windows(("00:00", "24:00"))), id="window-whole-day"),
        pytest.param(spec(schedule=windows(("23:59", "24:00"))), id="window-ends-at-midnight"),
        pytest.param(
            spec(schedule=windows(("20:00", "24:00"), ("00:00", "02:00"))),
            id="window-split-at-midnight",
        ),
        pytest.param(spec(schedule=windows(("09:00", "09:01"))), id="window-one-minute"),
        pytest.param(
            spec(schedule={"startTime": "2026-01-01T00:00:00Z"}), id="start-time-without-end"
        ),
        pytest.param(spec(schedule={"endTime": "2026-01-01T00:00:00Z"}), id="end-time-only"),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-01T03:00:00Z",
                    "endTime": "2026-01-31T03:00:00Z",
                }
            ),
            id="end-time-after-start-time",
        ),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-01T10:00:00+08:00",
                    "endTime": "2026-01-01T03:00:00Z",
                }
            ),
            id="end-time-after-start-time-as-instants",
        ),
        pytest.param(spec(pacing={"maxDialRatio": "1"}), id="ratio-1"),
        pytest.param(spec(pacing={"maxDialRatio": "1.0"}), id="ratio-1.0"),
        pytest.param(spec(pacing={"maxDialRatio": "2.5"}), id="ratio-2.5"),
        pytest.param(spec(pacing={"maxDialRatio": "99.99"}), id="ratio-99.99"),
        pytest.param(spec(retry={"rules": []}), id="no-retry-rules"),
        pytest.param(
            spec(
                retry={
                    "rules": [
                        {"outcome": "Busy", "delayMinutes": 5},
                        {"outcome": "NoAnswer", "delayMinutes": 30, "maxAttempts": 2},
                        {"outcome": "AnsweredMachine", "delayMinutes": 1440},
                    ]
                }
            ),
            id="distinct-retry-outcomes",
        ),
        pytest.param(spec(workers={"min": 5, "max": 5}), id="workers-min-equals-max"),
        pytest.param(spec(workers={"min": 10}), id="workers-min-equals-default-max"),
        pytest.param(spec(workers={"max": 1}), id="workers-max-1"),
        pytest.param(AGENTLESS, id="agentless-extension"),
        pytest.param(
            {
                **AGENTLESS,
                "destination": {"sipUri": "sip:bot@voice.example.com:5060"},
                "pacing": {"maxConcurrency": 50, "abandonMessage": "kdial/abandoned.wav"},
            },
            id="agentless-sip-uri",
        ),
        pytest.param(spec(mode="Predictive"), id="predictive-without-destination"),
        pytest.param(spec(mode="Progressive"), id="progressive-without-destination"),
        pytest.param(spec(mode="Preview"), id="preview-without-destination"),
        pytest.param(
            spec(destination={"extension": "5000", "context": "ivr"}), id="destination-extension"
        ),
    ],
)
def test_cross_field_rules_accept(data: dict[str, Any]) -> None:
    CampaignSpec.model_validate(data)


#: The field each rule's message is about, as the rule declares it (`Rule.field_path`).
RULE_FIELD = {
    WINDOW_MSG: ".end",
    TIMES_MSG: ".endTime",
    RATIO_MSG: ".maxDialRatio",
    OUTCOMES_MSG: ".rules",
    WORKERS_MSG: ".min",
    DESTINATION_MSG: "",
    AGENTLESS_DESTINATION_MSG: ".destination",
    AGENTLESS_CONCURRENCY_MSG: ".pacing.maxConcurrency",
    ABANDON_MESSAGE_MSG: ".pacing.abandonMessage",
    DISPOSITION_MSG: ".callBack",
}


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        pytest.param(
            spec(schedule=windows(("20:00", "09:00"))),
            "spec.schedule.windows[0]",
            WINDOW_MSG,
            id="window-wraps-past-midnight",
        ),
        pytest.param(
            spec(schedule=windows(("22:00", "02:00"))),
            "spec.schedule.windows[0]",
            WINDOW_MSG,
            id="night-window",
        ),
        pytest.param(
            spec(schedule=windows(("09:00", "09:00"))),
            "spec.schedule.windows[0]",
            WINDOW_MSG,
            id="empty-window",
        ),
        pytest.param(
            spec(schedule=windows(("24:00", "24:00"))),
            "spec.schedule.windows[0]",
            WINDOW_MSG,
            id="window-at-midnight",
        ),
        pytest.param(
            spec(schedule=windows(("09:00", "12:00"), ("14:00", "13:00"))),
            "spec.schedule.windows[1]",
            WINDOW_MSG,
            id="second-window",
        ),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-31T00:00:00Z",
                    "endTime": "2026-01-01T00:00:00Z",
                }
            ),
            "spec.schedule",
            TIMES_MSG,
            id="end-time-before-start-time",
        ),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-01T00:00:00Z",
                    "endTime": "2026-01-01T00:00:00Z",
                }
            ),
            "spec.schedule",
            TIMES_MSG,
            id="end-time-equals-start-time",
        ),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-01T03:00:00Z",
                    "endTime": "2026-01-01T10:00:00+08:00",
                }
            ),
            "spec.schedule",
            TIMES_MSG,
            id="end-time-before-start-time-as-instants",
        ),
        pytest.param(
            spec(
                schedule={
                    "startTime": "2026-01-01T02:00:00Z",
                    "endTime": "2026-01-01T10:00:00+08:00",
                }
            ),
            "spec.schedule",
            TIMES_MSG,
            id="end-time-same-instant-other-offset",
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "0.5"}), "spec.pacing", RATIO_MSG, id="ratio-0.5"
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "0.99"}), "spec.pacing", RATIO_MSG, id="ratio-0.99"
        ),
        pytest.param(spec(pacing={"maxDialRatio": "0"}), "spec.pacing", RATIO_MSG, id="ratio-0"),
        pytest.param(
            spec(
                retry={
                    "rules": [
                        {"outcome": "Busy", "delayMinutes": 5},
                        {"outcome": "Busy", "delayMinutes": 30},
                    ]
                }
            ),
            "spec.retry",
            OUTCOMES_MSG,
            id="duplicate-retry-outcome",
        ),
        pytest.param(
            spec(
                retry={
                    "rules": [
                        {"outcome": "CallLoss", "delayMinutes": 0},
                        {"outcome": "NoAnswer", "delayMinutes": 60},
                        {"outcome": "CallLoss", "delayMinutes": 1},
                    ]
                }
            ),
            "spec.retry",
            OUTCOMES_MSG,
            id="duplicate-retry-outcome-apart",
        ),
        pytest.param(
            spec(workers={"min": 6, "max": 5}), "spec.workers", WORKERS_MSG, id="workers-min>max"
        ),
        pytest.param(
            spec(workers={"min": 11}), "spec.workers", WORKERS_MSG, id="workers-min>default-max"
        ),
        pytest.param(
            spec(destination={"extension": "5000", "sipUri": "sip:bot@voice.example.com"}),
            "spec.destination",
            DESTINATION_MSG,
            id="destination-both",
        ),
        pytest.param(
            spec(destination={"context": "ivr"}),
            "spec.destination",
            DESTINATION_MSG,
            id="destination-neither",
        ),
        pytest.param(
            {**AGENTLESS, "destination": None},
            "spec",
            AGENTLESS_DESTINATION_MSG,
            id="agentless-without-destination",
        ),
        pytest.param(
            {**AGENTLESS, "pacing": {}},
            "spec",
            AGENTLESS_CONCURRENCY_MSG,
            id="agentless-without-max-concurrency",
        ),
        pytest.param(
            {**AGENTLESS, "pacing": {"maxDialRatio": "2"}},
            "spec",
            AGENTLESS_CONCURRENCY_MSG,
            id="agentless-with-ratio-instead",
        ),
        pytest.param(
            {**AGENTLESS, "destination": {"sipUri": "sip:bot@voice.example.com"}},
            "spec",
            ABANDON_MESSAGE_MSG,
            id="sip-uri-bridge-without-abandon-message",
        ),
        pytest.param(
            spec(dispositions={"codes": [{"code": "X", "closesContact": True, "callBack": True}]}),
            "spec.dispositions.codes[0]",
            DISPOSITION_MSG,
            id="disposition-closing-and-calling-back",
        ),
    ],
)
def test_cross_field_rules_refuse(data: dict[str, Any], path: str, message: str) -> None:
    assert rejection(data) == f"{path}{RULE_FIELD[message]}: {message}"


def test_every_campaign_rule_has_a_refusing_case() -> None:
    schema = crd_manifest(CAMPAIGN)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    declared = set(_rule_messages(schema["properties"]["spec"]))

    assert declared == {
        WINDOW_MSG,
        TIMES_MSG,
        RATIO_MSG,
        OUTCOMES_MSG,
        WORKERS_MSG,
        DESTINATION_MSG,
        AGENTLESS_DESTINATION_MSG,
        AGENTLESS_CONCURRENCY_MSG,
        ABANDON_MESSAGE_MSG,
        DISPOSITION_MSG,
    }


def test_disposition_codes_and_fields_are_each_declared_once() -> None:
    twice = {"codes": [{"code": "Sale"}, {"code": "Sale", "closesContact": True}]}
    assert rejection(spec(dispositions=twice)) == "spec.dispositions.codes: duplicate code 'Sale'"
    fields = {"fields": [{"name": "amount"}, {"name": "amount", "type": "Decimal"}]}
    assert rejection(spec(dispositions=fields)) == (
        "spec.dispositions.fields: duplicate name 'amount'"
    )


def _rule_messages(node: dict[str, Any]) -> list[str]:
    messages = [rule["message"] for rule in node.get("x-kubernetes-validations", [])]
    for child in node.get("properties", {}).values():
        messages += _rule_messages(child)
    if "items" in node:
        messages += _rule_messages(node["items"])
    return messages


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(spec(mode="predictive"), "spec.mode", id="mode-lowercase"),
        pytest.param(spec(mode="Blaster"), "spec.mode", id="mode-unknown"),
        pytest.param(spec(state="running"), "spec.state", id="state-lowercase"),
        pytest.param(spec(state="Completed"), "spec.state", id="state-unknown"),
        pytest.param(
            spec(pacing={"ringTimeoutSeconds": 4}), "spec.pacing.ringTimeoutSeconds", id="ring-4"
        ),
        pytest.param(
            spec(pacing={"ringTimeoutSeconds": 121}),
            "spec.pacing.ringTimeoutSeconds",
            id="ring-121",
        ),
        pytest.param(
            spec(pacing={"maxAbandonPercent": 101}),
            "spec.pacing.maxAbandonPercent",
            id="abandon-101",
        ),
        pytest.param(
            spec(pacing={"maxAbandonPercent": -1}), "spec.pacing.maxAbandonPercent", id="abandon-1"
        ),
        pytest.param(
            spec(pacing={"connectDeadlineSeconds": 0}),
            "spec.pacing.connectDeadlineSeconds",
            id="connect-deadline-0",
        ),
        pytest.param(
            spec(pacing={"maxCallDurationSeconds": 14_401}),
            "spec.pacing.maxCallDurationSeconds",
            id="call-duration-too-long",
        ),
        pytest.param(
            spec(pacing={"maxConcurrency": 0}), "spec.pacing.maxConcurrency", id="concurrency-0"
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "2.555"}), "spec.pacing.maxDialRatio", id="ratio-3dp"
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "100"}), "spec.pacing.maxDialRatio", id="ratio-100"
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "-2"}), "spec.pacing.maxDialRatio", id="ratio-neg"
        ),
        pytest.param(
            spec(pacing={"maxDialRatio": "2,5"}), "spec.pacing.maxDialRatio", id="ratio-,"
        ),
        pytest.param(spec(priority=1001), "spec.priority", id="priority-1001"),
        pytest.param(spec(priority=-1), "spec.priority", id="priority-negative"),
        pytest.param(spec(workers={"min": -1}), "spec.workers.min", id="workers-min-negative"),
        pytest.param(spec(workers={"max": 0}), "spec.workers.max", id="workers-max-0"),
        pytest.param(spec(workers={"max": 1001}), "spec.workers.max", id="workers-max-1001"),
        pytest.param(spec(trial={"samplePercent": 0}), "spec.trial.samplePercent", id="trial-0"),
        pytest.param(
            spec(trial={"samplePercent": 101}), "spec.trial.samplePercent", id="trial-101"
        ),
        pytest.param(spec(trunkPoolRefs=[]), "spec.trunkPoolRefs", id="no-trunk-pools"),
        pytest.param(
            spec(trunkPoolRefs=[{"name": f"tp-{i}"} for i in range(9)]),
            "spec.trunkPoolRefs",
            id="nine-trunk-pools",
        ),
        pytest.param(
            spec(contactListRef={"name": "Leads_2026"}),
            "spec.contactListRef.name",
            id="ref-not-dns-name",
        ),
        pytest.param(spec(contactListRef={"name": ""}), "spec.contactListRef.name", id="ref-empty"),
        pytest.param(spec(contactListRef={}), "spec.contactListRef.name", id="ref-without-name"),
        pytest.param(
            spec(schedule={"windows": []}), "spec.schedule.windows", id="schedule-no-windows"
        ),
        pytest.param(
            spec(schedule=windows(("09:00", "24:01"))),
            "spec.schedule.windows[0].end",
            id="clock-24:01",
        ),
        pytest.param(
            spec(schedule=windows(("9:00", "20:00"))),
            "spec.schedule.windows[0].start",
            id="clock-one-digit-hour",
        ),
        pytest.param(
            spec(schedule=windows(("09:00", "25:00"))),
            "spec.schedule.windows[0].end",
            id="clock-25:00",
        ),
        pytest.param(
            spec(schedule=windows(("09:60", "20:00"))),
            "spec.schedule.windows[0].start",
            id="clock-minute-60",
        ),
        pytest.param(
            spec(schedule=windows(("09:00:00", "20:00"))),
            "spec.schedule.windows[0].start",
            id="clock-seconds",
        ),
        pytest.param(
            spec(schedule={"windows": [{"start": "09:00", "end": "20:00", "days": ["Monday"]}]}),
            "spec.schedule.windows[0].days[0]",
            id="day-unknown",
        ),
        pytest.param(
            spec(schedule={"windows": [{"start": "09:00", "end": "20:00", "days": []}]}),
            "spec.schedule.windows[0].days",
            id="days-empty",
        ),
        pytest.param(
            spec(schedule={"fallbackTimeZone": "Asia Shanghai"}),
            "spec.schedule.fallbackTimeZone",
            id="time-zone-space",
        ),
        pytest.param(
            spec(schedule={"startTime": "next monday"}),
            "spec.schedule.startTime",
            id="start-time-not-rfc3339",
        ),
        pytest.param(
            spec(retry={"rules": [{"outcome": "Cancelled", "delayMinutes": 1}]}),
            "spec.retry.rules[0].outcome",
            id="retry-cancelled",
        ),
        pytest.param(
            spec(retry={"rules": [{"outcome": "busy", "delayMinutes": 1}]}),
            "spec.retry.rules[0].outcome",
            id="retry-outcome-lowercase",
        ),
        pytest.param(
            spec(retry={"rules": [{"outcome": "Busy", "delayMinutes": -1}]}),
            "spec.retry.rules[0].delayMinutes",
            id="retry-delay-negative",
        ),
        pytest.param(
            spec(retry={"rules": [{"outcome": "Busy"}]}),
            "spec.retry.rules[0].delayMinutes",
            id="retry-delay-missing",
        ),
        pytest.param(
            spec(retry={"closure": {"maxAttempts": 0}}),
            "spec.retry.closure.maxAttempts",
            id="closure-0-attempts",
        ),
        pytest.param(
            spec(retry={"closure": {"withinDays": 366}}),
            "spec.retry.closure.withinDays",
            id="closure-366-days",
        ),
        pytest.param(
            spec(retention={"contactDataDays": 0}),
            "spec.retention.contactDataDays",
            id="retention-0-days",
        ),
        pytest.param(
            spec(retention={"contactDataDays": 3651}),
            "spec.retention.contactDataDays",
            id="retention-over-10-years",
        ),
        pytest.param(
            spec(destination={"extension": "5000 XML default"}),
            "spec.destination.extension",
            id="extension-space",
        ),
        pytest.param(
            spec(destination={"extension": "ivr/main"}),
            "spec.destination.extension",
            id="extension-slash",
        ),
        pytest.param(
            spec(destination={"extension": "5000", "context": "public default"}),
            "spec.destination.context",
            id="context-space",
        ),
        pytest.param(
            spec(destination={"sipUri": "bot@voice.example.com"}),
            "spec.destination.sipUri",
            id="sip-uri-no-scheme",
        ),
    ],
)
def test_field_rules_refuse(data: dict[str, Any], path: str) -> None:
    assert rejection(data).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "uri",
    [
        "sip:bot@a.example,sofia/gateway/premium/900",
        "sip:bot@a.example|sofia/gateway/premium/900",
        "sip:{origination_caller_id_number=1}bot@a.example",
        "sip:bot@a.example}",
        "sip:bot@a.example'",
        'sip:bot@a.example"',
        "sip:bot@a.example;transport=tcp",
        "sip:bot@a.example&api",
        "sip:bot@a.example xml",
        "sip:bot@a.example\tx",
        "sip:bot@a.example\n",
        "sip:",
        "http://bot.example",
    ],
)
def test_destination_sip_uri_refuses_dial_string_syntax(uri: str) -> None:
    assert rejection(spec(destination={"sipUri": uri})).startswith("spec.destination.sipUri: ")


@pytest.mark.parametrize(
    "message",
    [
        "../../etc/passwd",
        "kdial/../secret.wav",
        ".hidden.wav",
        "a b.wav",
        "a,hangup.wav",
        "playback:x.wav",
        "${system(id)}.wav",
        "'quoted'.wav",
        "x.wav\nbgapi",
        "say:en number 5",
        "",
    ],
)
def test_abandon_message_refuses_anything_but_a_plain_sound_file(message: str) -> None:
    data = spec(pacing={"abandonMessage": message})
    assert rejection(data).startswith("spec.pacing.abandonMessage: ")


@pytest.mark.parametrize(
    "message", ["kdial/abandoned.wav", "/usr/share/freeswitch/sounds/kdial/abandon_8k.wav"]
)
def test_abandon_message_accepts_sound_file_paths(message: str) -> None:
    CampaignSpec.model_validate(spec(pacing={"abandonMessage": message}))


def test_destination_sip_uri_refuses_the_enterprise_originate_delimiter() -> None:
    uri = "sip:bot@voice.example.com:_:sofia/gateway/premium/900123"

    assert rejection(spec(destination={"sipUri": uri})).startswith("spec.destination.sipUri: ")


@pytest.mark.parametrize(
    "uri", ["sip:bot@voice.example.com", "sips:bot@voice.example.com:5061", "sip:1000@10.0.0.5"]
)
def test_destination_sip_uri_accepts_plain_uris(uri: str) -> None:
    pacing = {"abandonMessage": "kdial/abandoned.wav"}
    CampaignSpec.model_validate(spec(destination={"sipUri": uri}, pacing=pacing))


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(spec(paused=True), "spec.paused", id="spec"),
        pytest.param(spec(pacing={"maxDialRate": "2"}), "spec.pacing.maxDialRate", id="pacing"),
        pytest.param(
            spec(schedule={"windows": [{"start": "09:00", "end": "20:00", "tz": "UTC"}]}),
            "spec.schedule.windows[0].tz",
            id="window",
        ),
        pytest.param(
            spec(retry={"rules": [{"outcome": "Busy", "delayMinutes": 1, "delay": 2}]}),
            "spec.retry.rules[0].delay",
            id="retry-rule",
        ),
        pytest.param(spec(retry={"closure": {"days": 3}}), "spec.retry.closure.days", id="closure"),
        pytest.param(spec(workers={"replicas": 3}), "spec.workers.replicas", id="workers"),
        pytest.param(
            spec(trunkPoolRefs=[{"name": "a", "namespace": "other"}]),
            "spec.trunkPoolRefs[0].namespace",
            id="cross-namespace-ref",
        ),
        pytest.param(
            spec(destination={"extension": "1", "dialplan": "XML"}),
            "spec.destination.dialplan",
            id="destination",
        ),
    ],
)
def test_unknown_fields_are_refused(data: dict[str, Any], path: str) -> None:
    assert rejection(data) == f"{path}: Extra inputs are not permitted"


@pytest.mark.parametrize("missing", ["mode", "contactListRef", "trunkPoolRefs", "callerIdPoolRef"])
def test_required_fields(missing: str) -> None:
    data = {key: value for key, value in MINIMAL.items() if key != missing}

    assert rejection(data) == f"spec.{missing}: Field required"
