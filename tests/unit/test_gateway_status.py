"""A TrunkPool's gateways as the workers' switches report them."""

from __future__ import annotations

from kdial.state.gateways import GatewayReport, SwitchGateway
from kdial_operator.gateway_status import STALE_MS, GatewaySummary, summarize, transitions

UP = SwitchGateway(state="REGED", status="UP")
FAILING = SwitchGateway(state="FAIL_WAIT", status="DOWN")


def test_a_gateway_reads_as_its_worst_switch_and_stale_reports_are_dropped() -> None:
    now = 100_000
    reports = [
        GatewayReport(at_ms=now - 1000, gateways={"a": UP, "b": UP}),
        GatewayReport(at_ms=now - 2000, gateways={"a": FAILING}),
        GatewayReport(at_ms=now - STALE_MS - 1, gateways={"a": UP, "b": FAILING}),
    ]
    summary = summarize(["a", "b", "c"], reports, now)
    assert summary["a"] == GatewaySummary("FAIL_WAIT", "DOWN", dialable=1, switches=2)
    assert summary["b"] == GatewaySummary("Missing", "DOWN", dialable=1, switches=2)
    assert summary["a"].down and summary["b"].down
    assert summarize(["a"], [], now) == {}


def test_events_follow_changes_of_down() -> None:
    down = GatewaySummary("FAIL_WAIT", "DOWN", 0, 1)
    up = GatewaySummary("REGED", "UP", 1, 1)
    assert transitions({}, {"a": up, "b": down}) == [("b", True)]
    assert transitions({"a": False, "b": True}, {"a": up, "b": down}) == []
    assert transitions({"b": True}, {"b": up}) == [("b", False)]
