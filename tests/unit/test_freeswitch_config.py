"""The FreeSWITCH image's configuration (images/freeswitch/conf), read as FreeSWITCH reads it:
every file parsed, X-PRE-PROCESS includes followed from freeswitch.xml. Then what kdial needs
of it: the Event Socket on loopback with the Secret's password, exactly the worker's modules,
the values the worker pod passes in, and every context, dialplan and application the worker's
originate and transfer commands name.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from kdial.api.campaign import Destination
from kdial.dialstring import SIP_PROFILE, Application, AppName, abandon_command, originate_command
from kdial.state import gateways as contract
from kdial_operator.settings import OperatorSettings
from kdial_operator.workload import worker_deployment
from tests.support.paths import REPO

IMAGE = REPO / "images" / "freeswitch"
CONF = IMAGE / "conf"

#: The modules the worker uses (issue 12), and mod_console: without a logger the switch says
#: nothing on stdout, which is all `kubectl logs` shows.
MODULES = {
    "mod_console",
    "mod_sofia",
    "mod_event_socket",
    "mod_commands",
    "mod_dptools",
    "mod_dialplan_xml",
    "mod_loopback",
    "mod_tone_stream",
    "mod_sndfile",
    "mod_avmd",
}
#: Which module provides each dialplan application and dialplan the worker's commands name.
PROVIDER = {
    "park": "mod_dptools",
    "bridge": "mod_dptools",
    "transfer": "mod_dptools",
    "playback": "mod_dptools",
    "hangup": "mod_dptools",
    "sched_hangup": "mod_dptools",
    "socket": "mod_event_socket",
    "inline": "mod_dptools",
    "XML": "mod_dialplan_xml",
}
#: Variables FreeSWITCH sets itself before reading its configuration.
BUILT_IN_VARIABLES = {"local_ip_v4"}
_VARIABLE = re.compile(r"\$\$\{([A-Za-z0-9_]+)\}")
UUID = "0b8e4a5c-6a1e-4c1f-9a57-3f2d8e9b7c10"


def xml_files() -> list[Path]:
    return sorted(CONF.rglob("*.xml"))


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (the repository's own files)


def assemble(path: Path) -> ET.Element:
    """`path` with its includes in place, as FreeSWITCH's preprocessor (switch_xml.c,
    preprocess_glob) builds the document: an include names files relative to the including
    file's directory; each one's root element takes the include's place (the preprocessor
    drops `<include>` lines, splicing in what they wrap). Includes of a directory that does
    not exist fail."""
    root = parse(path)
    _resolve(root, path.parent)
    return root


def _resolve(element: ET.Element, directory: Path) -> None:
    for index, child in reversed(list(enumerate(element))):
        if child.tag == "X-PRE-PROCESS" and child.get("cmd") == "include":
            pattern = child.get("data", "")
            folder = (directory / pattern).parent
            assert folder.is_dir(), f"{pattern}: no directory {folder.relative_to(CONF)}"
            element.remove(child)
            for offset, included in enumerate(sorted(folder.glob(Path(pattern).name))):
                element.insert(index + offset, assemble(included))
        else:
            _resolve(child, directory)


@pytest.fixture(scope="module")
def document() -> ET.Element:
    return assemble(CONF / "freeswitch.xml")


def configuration(document: ET.Element, name: str) -> ET.Element:
    (found,) = document.findall(f"./section[@name='configuration']/configuration[@name='{name}']")
    return found


def params(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iter("param")}


def exec_sets(document: ET.Element) -> dict[str, str]:
    """Global variables set by `exec-set`: name -> the environment variable printed."""
    found = {}
    for pre in document.iter("X-PRE-PROCESS"):
        if pre.get("cmd") == "exec-set":
            name, _, command = pre.get("data", "").partition("=")
            program, variable = command.split()
            assert program == "printenv", command
            found[name] = variable
    return found


def freeswitch_container() -> dict[str, Any]:
    deployment = worker_deployment(
        "team-a", "promo", "uid", 1, OperatorSettings(), trunk_pools=["lines"]
    )
    container = dict(deployment["spec"]["template"]["spec"]["containers"][1])
    assert container["name"] == "freeswitch"
    return container


def test_every_file_is_xml_freeswitch_reads() -> None:
    files = xml_files()

    assert {f.relative_to(CONF).as_posix() for f in files} >= {
        "freeswitch.xml",
        "vars.xml",
        "autoload_configs/modules.conf.xml",
        "autoload_configs/switch.conf.xml",
        "autoload_configs/event_socket.conf.xml",
        "autoload_configs/sofia.conf.xml",
        "sip_profiles/external.xml",
        "dialplan/default.xml",
    }
    for path in files:
        parse(path)  # raises on a file that is not well-formed
    assembled = {f for f in files if f.is_relative_to(CONF / "autoload_configs")}
    document = assemble(CONF / "freeswitch.xml")
    names = {c.get("name") for c in document.iter("configuration")}
    assert names == {parse(f).get("name") for f in assembled}


def test_the_event_socket_listens_on_loopback_only(document: ET.Element) -> None:
    settings = params(configuration(document, "event_socket.conf"))

    assert settings["listen-ip"] == "127.0.0.1"
    assert settings["listen-port"] == "$${esl_port}"
    assert exec_sets(document)["esl_port"] == "ESL_PORT"


def test_the_event_socket_password_comes_from_the_secret(document: ET.Element) -> None:
    settings = params(configuration(document, "event_socket.conf"))
    env = {e["name"]: e for e in freeswitch_container()["env"]}

    assert settings["password"] == "$${esl_password}"  # noqa: S105 (a reference to it)
    variable = exec_sets(document)["esl_password"]
    assert env[variable]["valueFrom"]["secretKeyRef"] == {
        "name": OperatorSettings().esl_password_secret,
        "key": "password",
    }
    for path in xml_files():
        text = path.read_text("utf-8")
        assert "ClueCon" not in text, path
        for element in parse(path).iter("param"):
            if "password" in (element.get("name") or ""):
                assert _VARIABLE.fullmatch(element.get("value", "")), path


def test_the_modules_loaded_are_the_workers_and_the_image_builds_just_those(
    document: ET.Element,
) -> None:
    loaded = [m.get("module", "") for m in configuration(document, "modules.conf").iter("load")]
    built = [
        line.rsplit("/", 1)[1]
        for line in (IMAGE / "modules.conf").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert sorted(loaded) == sorted(MODULES)
    assert sorted(built) == sorted(MODULES)


def test_every_variable_used_is_set_and_every_one_set_comes_from_the_pod(
    document: ET.Element,
) -> None:
    """The chart's values reach FreeSWITCH: what the configuration reads from its environment
    is what the worker pod gives the container, and nothing refers to a variable never set."""
    sets = exec_sets(document)
    used = {
        name
        for path in xml_files()
        # Comments too: the preprocessor substitutes line by line, comments or not.
        for name in _VARIABLE.findall(path.read_text("utf-8"))
    }
    env = {e["name"] for e in freeswitch_container()["env"]}
    switch = params(configuration(document, "switch.conf"))

    assert used <= set(sets) | BUILT_IN_VARIABLES
    assert set(sets.values()) <= env
    assert sets["sessions_per_second"] == "SESSIONS_PER_SECOND"
    assert switch["sessions-per-second"] == "$${sessions_per_second}"
    assert (switch["rtp-start-port"], switch["rtp-end-port"]) == (
        "$${rtp_start_port}",
        "$${rtp_end_port}",
    )
    # The entrypoint checks each before FreeSWITCH substitutes it into its XML.
    entrypoint = (IMAGE / "entrypoint.sh").read_text("utf-8")
    assert all(variable in entrypoint for variable in sets.values())


def test_one_external_profile_whose_gateways_the_operator_fills(document: ET.Element) -> None:
    profiles = configuration(document, "sofia.conf").findall("./profiles/profile")
    (profile,) = profiles
    raw = parse(CONF / "sip_profiles" / "external.xml")
    (include,) = raw.findall("./gateways/X-PRE-PROCESS")

    settings = profile.find("settings")

    assert profile.get("name") == SIP_PROFILE
    assert settings is not None and params(settings)["sip-port"] == "$${sip_port}"
    assert include.get("data") == "external/*.xml"
    assert list((CONF / "sip_profiles" / "external").glob("*.xml")) == []


def test_the_compiled_gateways_land_in_the_external_profile(tmp_path: Path) -> None:
    """The Secret the operator writes, mounted where the worker pod mounts it, is read as the
    external profile's gateways."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    mounted = Path(contract.SWITCH_DIR).relative_to("/usr/local/freeswitch/conf")
    golden = REPO / "tests" / "data" / "gateways" / "quickstart-trunks.xml"
    (conf / mounted / contract.XML_KEY).write_text(golden.read_text("utf-8"), "utf-8")
    (conf / mounted / contract.GENERATION_KEY).write_text("0123456789abcdef", "utf-8")

    (profile,) = configuration(assemble(conf / "freeswitch.xml"), "sofia.conf").findall(
        "./profiles/profile"
    )
    names = [g.get("name") for g in profile.findall("./gateways//gateway")]
    assert names == ["carrier-a", "carrier-b", "carrier-c"]
    # Only the include file: the generation beside it is not configuration.
    assert "0123456789abcdef" not in ET.tostring(profile, "unicode")


def _contexts(document: ET.Element) -> set[str]:
    return {c.get("name", "") for c in document.findall("./section[@name='dialplan']//context")}


def test_every_context_the_worker_transfers_to_exists(document: ET.Element) -> None:
    """The contexts the worker's originate commands name: a transfer's, by default and as a
    Campaign's destination defaults it."""
    commands = [
        originate_command("gw", "+8613812345678", application=Application.transfer("ivr")),
        originate_command(
            "gw",
            "+8613812345678",
            application=Application.transfer("ivr", Destination(extension="ivr").context),
        ),
    ]
    referenced = set()
    for command in commands:
        extension, dialplan, context = command.split()[-3:]
        assert (extension, dialplan) == ("ivr", "XML")
        referenced.add(context)

    assert referenced == {"default"}
    assert referenced <= _contexts(document)


def test_every_application_and_dialplan_the_worker_names_is_loaded(document: ET.Element) -> None:
    loaded = {m.get("module") for m in configuration(document, "modules.conf").iter("load")}
    originate = originate_command("gw", "+8613812345678", max_call_seconds=60)
    abandon = abandon_command(UUID, "/sounds/abandon.wav")
    named = {app.value for app in AppName} | {"XML"}
    named |= {"sched_hangup"} if "sched_hangup" in originate else set()
    inline_apps = re.fullmatch(r"uuid_transfer \S+ (\S+) (inline)", abandon)
    assert inline_apps is not None
    named |= {part.split(":")[0] for part in inline_apps.group(1).split(",")}
    named.add(inline_apps.group(2))

    assert named == set(PROVIDER)
    assert {PROVIDER[name] for name in named} <= loaded
