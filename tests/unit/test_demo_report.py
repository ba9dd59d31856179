"""The demo's timeline, report (with a campaign's agents too) and live view, and the quickstart
switch it runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kdial_api.openapi import CampaignStatsView, StatsView
from kdial_cli.demo import view as demo_view
from kdial_cli.demo.report import AgentReport, Contacts, abandons, agent_figures, by_trunk, report
from kdial_cli.demo.timeline import Timeline
from kdial_sim.scenario import FailFault, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC).timestamp()
TRUNKS = ["carrier-a", "carrier-b", "carrier-c"]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(START + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def trunks(**states: str) -> dict[str, list[dict[str, str]]]:
    return {
        "trunks": [
            {"name": n, "state": s, "lastTransitionTime": stamp(37), "reason": "call loss 48%"}
            for n, s in states.items()
        ]
    }


def bare_report(timeline: Timeline) -> str:
    return report(
        "ns/quickstart", records=[], trunks=TRUNKS, contacts=None, timeline=timeline, dialing=None
    )


def test_the_quickstart_switch_serves_every_trunk_and_fails_carrier_c_mid_run() -> None:
    scenario = load_scenario(EXAMPLES / "sim" / "quickstart.yaml")
    pool = yaml.safe_load((EXAMPLES / "quickstart" / "trunkpool.yaml").read_text())
    # The demo's switch reads the gateways the operator compiled: each trunk's gateway reaches
    # the carrier of the trunk's name at its proxy (no port: SIP's 5060).
    for trunk in pool["spec"]["trunks"]:
        host, _, port = trunk["gateway"]["proxy"].partition(":")
        assert scenario.carriers[trunk["name"]].proxy == f"{host}:{port or 5060}", trunk["name"]
    faults = [f for f in scenario.faults if isinstance(f, FailFault)]
    assert [(f.carrier, f.sip_status) for f in faults] == [("carrier-c", 503)]
    assert faults[0].at > 0, "the carrier works at first and fails mid-run"


def test_an_ejection_seen_in_status_is_placed_at_its_transition_time() -> None:
    timeline = Timeline(START)
    timeline.trunks(5, trunks(**{"carrier-c": "Healthy"}))
    timeline.trunks(40, trunks(**{"carrier-c": "Ejected"}))
    assert timeline.ejections == {"carrier-c": [37.0]}
    text = bare_report(timeline)
    assert "carrier-c ejected at +37s (call loss 48%)" in text


def test_an_ejection_event_counts_once_with_the_status_it_agrees_with() -> None:
    timeline = Timeline(START)
    timeline.trunks(5, trunks(**{"carrier-c": "Healthy"}))
    event = {
        "metadata": {"uid": "e1"},
        "reason": "TrunkEjected",
        "message": "trunk carrier-c ejected: call-loss rate 48% over 20%",
        "involvedObject": {"kind": "TrunkPool", "name": "quickstart-trunks"},
        "lastTimestamp": stamp(38),
    }
    timeline.events(39, [event], TRUNKS)
    timeline.events(41, [event], TRUNKS)  # the same Event listed again
    timeline.trunks(41, trunks(**{"carrier-c": "Ejected"}))
    assert timeline.ejections == {"carrier-c": [38.0]}
    assert [e.source for e in timeline.entries].count("TrunkPool/quickstart-trunks") == 1


def test_without_an_ejection_the_report_says_so() -> None:
    timeline = Timeline(START)
    timeline.trunks(5, trunks(**{"carrier-a": "Healthy"}))
    text = bare_report(timeline)
    assert "  no trunk was ejected" in text


def test_per_trunk_figures_count_attempts_that_reached_a_carrier() -> None:
    records = [
        {"trunk": "carrier-a", "outcome": "AnsweredHuman"},
        {"trunk": "carrier-a", "outcome": "Busy"},
        {"trunk": "carrier-a", "outcome": "Cancelled"},  # never left the switch
        {"trunk": "carrier-c", "outcome": "CallLoss"},
        {"trunk": "carrier-c", "outcome": "AnsweredMachine"},
    ]
    figures = {f.name: f for f in by_trunk(records, TRUNKS)}
    assert (figures["carrier-a"].attempts, figures["carrier-a"].answered) == (2, 1)
    assert figures["carrier-a"].asr == "50.0%"
    assert (figures["carrier-b"].attempts, figures["carrier-b"].asr) == (0, "")
    assert (figures["carrier-c"].call_loss, figures["carrier-c"].loss_rate) == (1, "50.0%")


def test_the_report_accounts_for_contacts_and_scaling() -> None:
    timeline = Timeline(START)
    timeline.replicas(1, None)
    timeline.replicas(8, 2)
    timeline.replicas(50, 1)
    timeline.replicas(80, 0)
    text = report(
        "ns/quickstart",
        records=[{"trunk": "carrier-a", "outcome": "Busy", "caller_id": "+861065529988"}],
        trunks=TRUNKS,
        contacts=Contacts(total=300, closed=220, pending=80, in_flight=0),
        timeline=timeline,
        dialing=(6, 81),
    )
    assert "300 total: 220 closed, 80 pending (due again later), 0 in flight" in text
    assert "0 → 2 at +8s, 2 → 1 at +50s, 1 → 0 at +80s" in text
    assert "+861065529988" in text  # the business's own caller ID, not a callee's number


def test_event_messages_are_masked_in_the_timeline() -> None:
    timeline = Timeline(START)
    event = {"metadata": {"uid": "e2"}, "reason": "Note", "message": "callee 13800138000 busy"}
    timeline.events(3, [event], TRUNKS)
    assert "13800138000" not in timeline.entries[0].text


def test_the_live_view_shows_the_printer_columns() -> None:
    campaign = {
        "metadata": {"name": "quickstart"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "summary": "Dialing",
            "progress": {"summary": "120/300 (40%)"},
            "activeCalls": 38,
            "rolling": {"asr": "41.2%", "abandonRate": "0.0%"},
            "workers": {"summary": "2/2"},
        },
    }
    text = demo_view.frame(
        42, campaign=campaign, pool=None, pods=None, entries=[], hint="kubectl get camp,tp"
    )
    header, row = text.splitlines()[2:4]
    assert header.split() == [
        "NAME",
        "READY",
        "STATUS",
        "PROGRESS",
        "ACTIVE",
        "ASR",
        "ABANDON",
        "WORKERS",
    ]
    assert row.split() == (
        [
            "campaign.kdial.io/quickstart",
            "True",
            "Dialing",
            "120/300",
            "(40%)",
            "38",
            "41.2%",
            "0.0%",
            "2/2",
        ]
    )
    assert header.index("STATUS") == row.index("Dialing"), "columns line up"


def test_events_of_an_earlier_run_are_left_out() -> None:
    timeline = Timeline(START)
    old = {"metadata": {"uid": "old"}, "reason": "Dialing", "lastTimestamp": stamp(-600)}
    new = {"metadata": {"uid": "new"}, "reason": "Paused", "lastTimestamp": stamp(30)}
    timeline.events(31, [old, new], TRUNKS)
    assert [e.text for e in timeline.entries] == ["Paused: "]


def stats_answer(**agents: StatsView) -> dict[str, Any]:
    """The agent API's `/stats` answer, made by its own model."""
    view = CampaignStatsView(campaign=sum_of(list(agents.values())), agents=agents)
    return view.model_dump(mode="json", by_alias=True)


def agent_view(calls: int, talk: float, wrap_up: float, idle: float) -> StatsView:
    busy = talk + wrap_up
    return StatsView(
        calls=calls,
        missed=0,
        idle_seconds=idle,
        reserved_seconds=0,
        talk_seconds=talk,
        wrap_up_seconds=wrap_up,
        not_ready_seconds=0,
        occupancy=busy / (busy + idle) if busy + idle else None,
        dispositions={},
    )


def sum_of(views: list[StatsView]) -> StatsView:
    return agent_view(
        sum(v.calls for v in views),
        sum(v.talk_seconds for v in views),
        sum(v.wrap_up_seconds for v in views),
        sum(v.idle_seconds for v in views),
    )


def test_agent_figures_are_read_from_the_api_answer_each_agent_and_all() -> None:
    answer = stats_answer(
        ana=agent_view(5, talk=40, wrap_up=10, idle=25), bo=agent_view(0, 0, 0, idle=0)
    )
    each, overall = agent_figures(answer)

    assert [(a.name, a.calls, a.talk_seconds, a.idle_seconds) for a in each] == [
        ("ana", 5, 40.0, 25.0),
        ("bo", 0, 0.0, 0.0),
    ]
    assert each[0].occupancy == 50 / 75
    assert each[1].occupancy is None, "no time available yet"
    assert (overall.name, overall.calls, overall.wrap_up_seconds) == ("all 2", 5, 10.0)


def test_abandoned_calls_count_against_answered_calls_as_the_cap_does() -> None:
    bridged = {"outcome": "AnsweredHuman", "agent": "ana", "bridged_ms": "1700000000000"}
    records = [bridged] * 95 + [{"outcome": "AnsweredMachine"}] * 2 + [{"outcome": "Busy"}] * 40
    within = abandons([*records, *[{"outcome": "Abandoned", "agent": "bo"}] * 3], cap_percent=3)
    over = abandons([*records, *[{"outcome": "Abandoned"}] * 4], cap_percent=3)

    assert (within.answered, within.bridged, within.abandoned) == (100, 95, 3)
    assert within.verdict() == "within the cap of 3%", "3 of 100 answered is the cap itself"
    assert (over.answered, over.abandoned) == (101, 4)
    assert over.verdict() == "OVER the cap of 3%"


def test_too_few_answered_calls_are_not_held_against_the_cap() -> None:
    """As the pacer's brake: one abandoned call of the first ten says nothing of a rate."""
    bridged = {"outcome": "AnsweredHuman", "agent": "ana", "bridged_ms": "1700000000000"}
    few = abandons([bridged] * 9 + [{"outcome": "Abandoned"}], cap_percent=3)

    assert few.judged_from == 30
    assert few.verdict().startswith("too few answered calls to hold against the cap of 3%")
    assert abandons([bridged] * 29 + [{"outcome": "Abandoned"}], 3).verdict() == (
        "OVER the cap of 3%"
    )


def test_the_report_of_a_campaign_with_agents_shows_them_and_the_cap() -> None:
    answer = stats_answer(
        ana=agent_view(5, talk=40, wrap_up=10, idle=25), bo=agent_view(3, 30, 6, idle=36)
    )
    bridged = {"trunk": "cm-guangdong", "outcome": "AnsweredHuman", "agent": "a", "bridged_ms": "1"}
    records = [bridged] * 29 + [{"trunk": "cm-guangdong", "outcome": "Abandoned"}]
    text = report(
        "ns/broadband-renewal",
        records=records,
        trunks=["cm-guangdong"],
        contacts=None,
        timeline=Timeline(START),
        dialing=(5, 80),
        staffing=AgentReport(answer, cap_percent=3),
    )

    assert "  ana              5    40s     10s    25s     66.7%" in text
    assert "  bo               3    30s      6s    36s     50.0%" in text
    assert "  all 2            8    70s     16s    61s     58.5%" in text
    assert "30 answered, 29 bridged to an agent, 1 abandoned (3.3%): OVER the cap of 3%" in text
    assert "Agents" not in bare_report(Timeline(START)), "an agentless campaign has none"
