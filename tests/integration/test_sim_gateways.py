"""`kdial sim --conf DIR` over real TCP: gateways from the configuration folder, the sofia
commands a worker sends, originates through them, and a configuration it refuses to guess."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from kdial_local.processes import DidNotStart, kdial
from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient
from tests.support.gateways import gateway_xml

SCENARIO = {
    "carriers": {
        "a": {
            "proxy": "10.1.0.1:5060",
            "answerProbability": 1,
            "pddSeconds": 0.2,
            "ringSeconds": 1,
        },
        "b": {"proxy": "10.1.0.2:5060", "registration": "refuse", "pddSeconds": 0.2},
    }
}
PLAIN = {"proxy": "10.1.0.1:5060", "register": "false"}
REFUSED = {"proxy": "10.1.0.2:5060", "username": "u", "password": "p", "register": "true"}


def write(conf: Path, gateways: dict[str, dict[str, str]]) -> None:
    folder = conf / "sip_profiles" / "external" / "pod-1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateways.xml").write_text(gateway_xml(gateways), encoding="utf-8")


def originate(gateway: str) -> str:
    return (
        f"originate {{origination_uuid={uuid.uuid4()},originate_timeout=20}}"
        f"sofia/gateway/{gateway}/13800138000 &park()"
    )


def test_gateways_load_from_conf_and_change_with_rescan_and_killgw(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    write(conf, {"gw-a": PLAIN, "gw-b": REFUSED})
    with running_sim(SCENARIO, speed=20, conf=conf) as sim, EslClient(*sim).connect() as esl:
        summary = esl.api("sofia status gateway")
        assert "external::gw-a\t" in summary and "\tNOREG\t" in summary
        assert summary.endswith(
            "2 gateways: Inbound(Failed/Total): 0/0,Outbound(Failed/Total):0/0\n"
        )
        xml = esl.api("sofia xmlstatus gateway")
        assert "<name>gw-b</name>" in xml and "<password>yes</password>" in xml
        assert ">p<" not in xml
        # Registration refused: the gateway is down and sofia refuses to place calls on it.
        assert esl.api(originate("gw-b")) == "-ERR GATEWAY_DOWN\n"
        assert esl.api(originate("gw-c")) == "-ERR INVALID_GATEWAY\n"

        write(conf, {"gw-a": PLAIN, "gw-c": PLAIN | {"proxy": "10.1.0.1:5070"}})
        assert esl.api("reloadxml") == "+OK [Success]\n"
        assert esl.api("sofia profile external killgw gw-b") == "+OK gateway marked for deletion.\n"
        assert esl.api("sofia profile external rescan") == (
            "Reload XML [Success]\n+OK scan complete\n"
        )
        assert esl.api("sofia xmlstatus gateway gw-b") == "Invalid Gateway!\n"
        assert "<state>NOREG</state>" in esl.api("sofia xmlstatus gateway gw-c")
        assert esl.api(originate("gw-a")).startswith("+OK ")

        write(conf, {"gw-a": PLAIN | {"proxy": "10.9.9.9:5060"}})
        (conf / "sip_profiles" / "external" / "other.xml").write_text(
            gateway_xml({"gw-a": PLAIN}), encoding="utf-8"
        )
        refused = esl.api("reloadxml")
        assert refused.startswith("-ERR kdial sim cannot emulate this configuration: gateway")


def test_a_configuration_it_cannot_emulate_stops_it_at_start(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    write(conf, {"gw-a": PLAIN})
    (conf / "sip_profiles" / "external" / "twice.xml").write_text(
        gateway_xml({"gw-a": PLAIN | {"proxy": "10.1.0.3:5060"}}), encoding="utf-8"
    )
    with (
        pytest.raises(DidNotStart, match="'gw-a' is defined differently"),
        running_sim(SCENARIO, conf=conf),
    ):
        pass
    done = subprocess.run(
        kdial("sim", "--scenario", "/dev/null", "--conf", str(conf), "--check"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "defined differently" in done.stderr
