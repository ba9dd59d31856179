"""What a worker tells its switch about gateways, and which trunks it dials given their states."""

from __future__ import annotations

import pytest

from kdial.state.gateways import SwitchGateway
from kdial_sim.gateways import FarEnd, GatewayDef, Gateways
from kdial_worker.gateways import (
    BadStatus,
    combined,
    gateway_current,
    gateway_ok,
    parse_xml_status,
    reload_commands,
    reload_due,
    stale_gateways,
    wanted_generations,
)

#: Gateways' fingerprints (`kdial.state.gateways.fingerprints`).
A, B = "a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2"
A_PARAMS = {"proxy": "10.0.0.1:5060", "register": "false"}
RESCAN = "sofia profile external rescan"


def test_a_new_gateway_is_rescanned_in_and_a_removed_one_killed() -> None:
    assert stale_gateways({"a": A}, {"a": A, "b": B}, ["a"]) == []
    assert stale_gateways({"a": A, "b": B}, {"b": B}, ["a", "b"]) == ["a"]
    assert reload_commands(["a"]) == ["reloadxml", "sofia profile external killgw a", RESCAN]
    assert reload_commands([]) == ["reloadxml", RESCAN]


def test_a_changed_gateway_is_killed_before_the_rescan_loads_it_again() -> None:
    assert stale_gateways({"a": A}, {"a": "c3c3c3c3c3c3c3c3"}, ["a"]) == ["a"]


def test_after_a_restart_the_switchs_own_list_says_what_is_gone() -> None:
    assert stale_gateways(None, {"b": B}, ["a", "b"]) == ["a"]


def test_a_name_unsafe_in_a_command_is_never_sent() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        stale_gateways(None, {"a\n\napi hupall": A}, [])
    # One the switch reports is skipped rather than sent.
    assert stale_gateways(None, {"a": A}, ["x y"]) == []


def test_the_switch_is_told_once_the_mount_shows_the_wanted_generation() -> None:
    one = {"lines": "g2"}
    assert not reload_due(one, {"lines": "g1"}, {"lines": "g1"})  # the volume is not updated yet
    assert reload_due(one, {"lines": "g2"}, {"lines": "g1"})
    assert reload_due(one, {"lines": "g2"}, {})  # a worker just started: nothing told yet
    assert not reload_due(one, {"lines": "g2"}, {"lines": "g2"})  # applied already
    assert not reload_due({}, {}, {})
    assert wanted_generations([("lines", "g1"), ("sip-only", "")]) == {"lines": "g1"}


def test_with_two_pools_the_switch_is_told_once_the_mount_shows_both() -> None:
    wanted = {"lines": "g2", "backup": "h1"}
    applied = {"lines": "g1", "backup": "h1"}
    assert not reload_due(wanted, {"lines": "g2", "backup": None}, applied)
    assert not reload_due(wanted, {"lines": "g1", "backup": "h1"}, applied)
    assert reload_due(wanted, {"lines": "g2", "backup": "h1"}, applied)
    # Until then the pool that moved is not dialled, the other goes on.
    assert not current("lines", "a", A, wanted, applied, {})
    assert current("backup", "b", B, wanted, applied, {})
    assert current("sip-only", "s", "", wanted, applied, {}), "a pool naming no generation"


def current(
    pool: str,
    gateway: str,
    fingerprint: str,
    wanted: dict[str, str],
    applied: dict[str, str],
    applied_gateways: dict[str, str] | None,
) -> bool:
    return gateway_current(
        pool,
        gateway,
        fingerprint,
        wanted=wanted,
        applied=applied,
        applied_gateways=applied_gateways,
    )


def test_while_a_pool_change_waits_for_the_mount_its_unchanged_gateways_dial() -> None:
    """The pool moved to g2 (a changed, c new, b as it was); the switch still has g1."""
    wanted, applied = {"lines": "g2"}, {"lines": "g1"}
    had = {"a": A, "b": B}
    assert current("lines", "b", B, wanted, applied, had), "b unchanged: dialled"
    assert not current("lines", "a", "c3c3c3c3c3c3c3c3", wanted, applied, had), "a changed"
    assert not current("lines", "c", "d4d4d4d4d4d4d4d4", wanted, applied, had), "c is new"
    assert not current("lines", "b", "", wanted, applied, had), "no fingerprint: wait"
    assert not current("lines", "b", B, wanted, applied, None), "nothing applied yet"
    assert current("lines", "a", "c3c3c3c3c3c3c3c3", wanted, wanted, had), "once applied"


def test_one_gateway_name_in_two_pools_is_refused() -> None:
    gw = A
    assert combined({"lines": {"a": gw}, "backup": {"b": gw}}) == {"a": gw, "b": gw}
    with pytest.raises(ValueError, match="'a' is defined by pools lines and backup"):
        combined({"lines": {"a": gw}, "backup": {"a": gw}})


def test_dialable_trunks_need_their_gateway_loaded_registered_and_up() -> None:
    states = {
        "plain": SwitchGateway(state="NOREG", status="UP"),
        "reged": SwitchGateway(state="REGED", status="UP"),
        "failing": SwitchGateway(state="FAIL_WAIT", status="DOWN"),
        "trying": SwitchGateway(state="TRYING", status="DOWN"),
        "unpinged": SwitchGateway(state="NOREG", status="DOWN"),
    }
    assert [g for g in [*states, "absent"] if gateway_ok(g, states)] == ["plain", "reged"]
    assert gateway_ok(None, None)  # a SIP URI trunk needs no gateway
    assert not gateway_ok("plain", None)  # nothing known before the switch answered


def test_the_xmlstatus_reply_is_read_as_the_simulator_words_it() -> None:
    gateways = Gateways("127.0.0.1", 5080)
    defs = {
        "a": GatewayDef("a", tuple(A_PARAMS.items()), "x"),
        "b": GatewayDef("b", (("proxy", "10.0.0.2"), ("password", "p")), "x"),
    }
    gateways.rescan(defs, lambda _: FarEnd("refuse", 1.0, None), 1000.0)
    assert parse_xml_status(gateways.xml_summary(1005.0)) == {
        "a": SwitchGateway(state="NOREG", status="UP"),
        "b": SwitchGateway(state="FAIL_WAIT", status="DOWN"),
    }
    with pytest.raises(BadStatus):
        parse_xml_status("-ERR kdial sim cannot emulate sofia foo\n")
