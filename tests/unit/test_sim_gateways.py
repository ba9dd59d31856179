"""The simulator's sofia gateways: read from the conf folder as FreeSWITCH reads them, and
reported in mod_sofia's own words (cmd_status, cmd_xml_status, xml_gateway_status)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdial_sim.api import Api
from kdial_sim.bus import EventBus
from kdial_sim.clock import SimClock
from kdial_sim.events import Identity, Stamper
from kdial_sim.gateways import ConfigRefused, FarEnd, GatewayDef, Gateways, read_conf
from kdial_sim.scenario import parse_scenario
from kdial_sim.switch import Switch

PLAIN = '<include><gateway name="gw-a"><param name="proxy" value="10.0.0.1:5060"/>' \
    '<param name="register" value="false"/></gateway></include>'  # fmt: skip
REGISTERING = (
    '<include><gateway name="gw-b"><param name="proxy" value="10.0.0.2:5070"/>'
    '<param name="realm" value="b.example"/><param name="username" value="kdial"/>'
    '<param name="password" value="s3cret"/><param name="register" value="true"/>'
    '<param name="retry-seconds" value="10"/></gateway></include>'
)


def external(conf: Path, name: str, xml: str) -> Path:
    path = conf / "sip_profiles" / "external" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(xml, encoding="utf-8")
    return path


def test_gateways_come_from_every_xml_file_below_the_external_profile(tmp_path: Path) -> None:
    external(tmp_path, "pod-1/gateways.xml", PLAIN)
    external(tmp_path, "pod-2/gateways.xml", PLAIN)  # a second pod of the same pool
    external(tmp_path, "pod-2/..2026_01_01/gateways.xml", REGISTERING)  # kubelet internals
    external(tmp_path, "pod-2/generation", "not xml, not read")
    found = read_conf(tmp_path)
    assert list(found) == ["gw-a"]
    assert found["gw-a"].proxy == "10.0.0.1:5060"
    assert not found["gw-a"].registers


def test_one_name_defined_two_ways_is_refused_not_guessed(tmp_path: Path) -> None:
    external(tmp_path, "one.xml", PLAIN)
    external(tmp_path, "two.xml", PLAIN.replace("10.0.0.1", "10.0.0.9"))
    with pytest.raises(ConfigRefused, match=r"'gw-a' is defined differently in .*one\.xml"):
        read_conf(tmp_path)


def test_a_registering_gateway_without_a_password_is_refused(tmp_path: Path) -> None:
    external(tmp_path, "gw.xml", REGISTERING.replace('<param name="password" value="s3cret"/>', ""))
    with pytest.raises(ConfigRefused, match="registers without a password"):
        read_conf(tmp_path)


def loaded(xml_dir: Path, registration: str = "accept") -> Gateways:
    gateways = Gateways("127.0.0.1", 5080)
    gateways.rescan(read_conf(xml_dir), lambda _: FarEnd(registration, 1.0, "carrier"), 1000.0)
    return gateways


def test_registration_follows_sofias_states(tmp_path: Path) -> None:
    external(tmp_path, "gw.xml", REGISTERING)
    accepted = loaded(tmp_path).find("gw-b")
    assert accepted is not None
    assert accepted.state(1000.5)[0] == "TRYING" and accepted.status(1000.5) == "DOWN"
    assert accepted.state(1001.0) == ("REGED", None) and accepted.status(1001.0) == "UP"
    refused = loaded(tmp_path, "refuse").find("gw-b")
    assert refused is not None
    # 403 after 1 s, then FAIL_WAIT for retry-seconds (10), then it tries again.
    assert [refused.state(t)[0] for t in (1000.5, 1002, 1010.9, 1011.5)] == [
        "TRYING",
        "FAIL_WAIT",
        "FAIL_WAIT",
        "TRYING",
    ]
    assert refused.status(1002) == "DOWN"
    unreachable = loaded(tmp_path, "unreachable").find("gw-b")
    assert unreachable is not None
    assert unreachable.state(1031)[0] == "TRYING" and unreachable.state(1033)[0] == "FAIL_WAIT"


def test_status_gateway_in_cmd_status_words(tmp_path: Path) -> None:
    external(tmp_path, "a.xml", PLAIN)
    external(tmp_path, "b.xml", REGISTERING)
    gateways = loaded(tmp_path, "refuse")
    line = "=" * 97
    assert gateways.status_summary(1000.5) == (
        "    Profile::Gateway-Name\t                        Data    \tState\tPing Time\t"
        "IB Calls(F/T)\tOB Calls(F/T)\n"
        f"{line}\n"
        "           external::gw-b\t         sip:kdial@10.0.0.2:5070\tTRYING\t  0.00\t0/0\t0/0"
        " (retry: 0s)\n"
        "           external::gw-a\t    sip:FreeSWITCH@10.0.0.1:5060\tNOREG\t  0.00\t0/0\t0/0\n"
        f"{line}\n"
        "2 gateways: Inbound(Failed/Total): 0/0,Outbound(Failed/Total):0/0\n"
    )
    one = gateways.status_one("gw-b", 1002)
    assert one.startswith(f"{line}\nName    \tgw-b\nProfile \texternal\nScheme  \tDigest\n")
    assert "Realm   \tb.example\nUsername\tkdial\nPassword\tyes\n" in one
    assert "From    \t<sip:kdial@b.example;transport=udp>\n" in one
    assert "State   \tFAIL_WAIT\nStatus  \tDOWN\nUptime  \t0s\n" in one
    assert "s3cret" not in one
    assert gateways.status_one("nope", 1002) == "Invalid Gateway!\n"


def test_xmlstatus_gateway_in_xml_gateway_status_words(tmp_path: Path) -> None:
    external(tmp_path, "a.xml", PLAIN)
    gateways = loaded(tmp_path)
    xml = gateways.xml_summary(1005)
    assert xml.startswith('<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateways>\n  <gateway>\n')
    assert "    <name>gw-a</name>\n    <profile>external</profile>\n" in xml
    assert "    <from>&lt;sip:FreeSWITCH@gw-a;transport=udp&gt;</from>\n" in xml
    assert "    <state>NOREG</state>\n    <status>UP</status>\n" in xml
    assert "    <uptime-usec>5000000</uptime-usec>\n" in xml
    assert xml.endswith("  </gateway>\n</gateways>\n")
    one = gateways.xml_one("gw-a", 1005)
    assert one.startswith('<?xml version="1.0" encoding="ISO-8859-1"?>\n  <gateway>\n')


def switch(conf: Path | None, carriers: dict[str, object]) -> Switch:
    scenario = parse_scenario({"carriers": carriers})
    clock = SimClock(1.0)
    identity = Identity("core", "kdial-sim", "127.0.0.1", "::1", 5080)
    return Switch(scenario, clock, EventBus(), Stamper(identity, clock), conf)


async def test_reloadxml_rescan_and_killgw_answer_as_mod_sofia(tmp_path: Path) -> None:
    path = external(tmp_path, "gateways.xml", PLAIN)
    api = Api(switch(tmp_path, {"a": {"proxy": "10.0.0.1:5060"}}))
    assert await api.execute("sofia", "xmlstatus gateway gw-b") == "Invalid Gateway!\n"
    path.write_text(PLAIN.replace("gw-a", "gw-b"), encoding="utf-8")
    assert await api.execute("reloadxml", None) == "+OK [Success]\n"
    # reloadxml alone loads no gateway: the profile rescans.
    assert await api.execute("sofia", "xmlstatus gateway gw-b") == "Invalid Gateway!\n"
    assert await api.execute("sofia", "profile external rescan") == (
        "Reload XML [Success]\n+OK scan complete\n"
    )
    assert "<name>gw-b</name>" in await api.execute("sofia", "xmlstatus gateway gw-b")
    assert await api.execute("sofia", "profile external killgw gw-a") == (
        "+OK gateway marked for deletion.\n"
    )
    assert await api.execute("sofia", "profile external killgw gw-a") == "-ERR no such gateway.\n"
    assert await api.execute("sofia", "profile external killgw") == "-ERR missing gw name\n"
    assert await api.execute("sofia", "profile internal rescan") == "Invalid Profile [internal]"
    assert (await api.execute("sofia", "profile external flush_inbound_reg")).startswith(
        "-ERR kdial sim cannot emulate"
    )


async def test_rescan_keeps_a_loaded_gateway_as_it_was(tmp_path: Path) -> None:
    path = external(tmp_path, "gateways.xml", PLAIN)
    sw = switch(tmp_path, {"a": {"proxy": "10.0.0.1:5060"}, "z": {"proxy": "10.0.0.9:5060"}})
    path.write_text(PLAIN.replace("10.0.0.1", "10.0.0.9"), encoding="utf-8")
    sw.rescan()
    gateway = sw.gateways.find("gw-a")
    assert gateway is not None and gateway.far_end.carrier == "a"  # "Ignoring duplicate gateway"
    sw.gateways.kill("gw-a")
    sw.rescan()
    gateway = sw.gateways.find("gw-a")
    assert gateway is not None and gateway.far_end.carrier == "z"


def test_without_conf_every_carrier_is_a_gateway_that_does_not_register() -> None:
    sw = switch(None, {"carrier-a": {}, "carrier-b": {}})
    assert [g.spec.name for g in sw.gateways.loaded] == ["carrier-b", "carrier-a"]
    assert all(g.status(sw.clock.now()) == "UP" for g in sw.gateways.loaded)
    assert all(g.far_end.carrier == g.spec.name for g in sw.gateways.loaded)


def test_a_proxy_two_carriers_answer_for_is_refused(tmp_path: Path) -> None:
    external(tmp_path, "gateways.xml", PLAIN)
    with pytest.raises(ConfigRefused, match="served by carriers a, b"):
        switch(tmp_path, {"a": {"proxy": "10.0.0.1:5060"}, "b": {"hosts": ["10.0.0.1"]}})


def test_a_gateway_definition_reads_sofias_defaults() -> None:
    gateway = GatewayDef("gw", (("register", "false"),), "x.xml")
    assert (gateway.realm, gateway.proxy, gateway.username, gateway.transport) == (
        "gw",
        "gw",
        "FreeSWITCH",
        "udp",
    )
