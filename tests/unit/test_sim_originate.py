"""The simulator parses originate lines by FreeSWITCH's own tokenizer rules."""

from __future__ import annotations

import pytest

from kdial.dialstring import SipUri, originate_command
from kdial_sim import fsstring
from kdial_sim.originate import OriginateUsageError, parse_dial_target, parse_originate


def test_the_workers_sip_uri_dial_string_is_read_as_freeswitch_reads_it() -> None:
    """A TrunkPool sipUri trunk's line, as kdial.dialstring builds it, byte for byte."""
    line = originate_command(
        SipUri("sip.carrier-a.example:5060"),
        "+8613812345678",
        {"origination_uuid": "u-1", "originate_timeout": "20"},
        max_call_seconds=3600,
    )
    assert line.startswith("originate ")
    request = parse_originate(line.removeprefix("originate "))
    target = request.first_leg.target
    assert (target.endpoint, target.profile, target.gateway) == ("sofia", "external", None)
    assert target.destination == "8613812345678"
    assert target.host == "sip.carrier-a.example:5060"
    assert target.channel_name == "sofia/external/8613812345678@sip.carrier-a.example:5060"
    assert len(request.groups) == 1 and len(request.groups[0]) == 1
    assert dict(request.global_vars) == {
        "origination_uuid": "u-1",
        "originate_timeout": "20",
        "execute_on_answer": "sched_hangup +3600 ALLOTTED_TIMEOUT",
    }
    assert (request.app, request.app_arg) == ("park", "")


def test_gateway_dial_string_with_vars_and_app() -> None:
    request = parse_originate(
        "{origination_uuid=u-1,origination_caller_id_number=02888880000,originate_timeout=20}"
        "sofia/gateway/carrier-a/13800138000 &park()"
    )
    leg = request.first_leg
    assert leg.target.gateway == "carrier-a"
    assert leg.target.destination == "13800138000"
    assert leg.target.channel_name == "sofia/external/13800138000"
    assert request.global_vars == (
        ("origination_uuid", "u-1"),
        ("origination_caller_id_number", "02888880000"),
        ("originate_timeout", "20"),
    )
    assert (request.app, request.app_arg, request.exten) == ("park", "", None)
    assert (request.dialplan, request.context, request.timeout) == ("XML", "default", 60)


def test_quotes_are_eaten_by_the_api_blank_split_so_only_escapes_protect_commas() -> None:
    # FreeSWITCH splits the whole API line on blanks first, and that split strips quotes.
    request = parse_originate(r"{a=b,c='d,e',f=g\,h,i=\'j,k\'}sofia/gateway/gw/1 &park()")
    assert dict(request.global_vars) == {"a": "b", "c": "d", "f": "g,h", "i": "j,k"}


def test_quotes_keep_spaces_together() -> None:
    request = parse_originate("{origination_caller_id_name='Jane Q Doe'}sofia/gateway/gw/1 &park()")
    assert dict(request.global_vars) == {"origination_caller_id_name": "Jane Q Doe"}


def test_per_leg_brackets_override_globals_and_keep_escaped_commas() -> None:
    request = parse_originate(r"{a=1,b=2}[b=3,c=x\,y]sofia/gateway/gw/1 &park()")
    leg = request.first_leg
    assert leg.variables == (("b", "3"), ("c", "x,y"))
    assert request.variables_for(leg) == [("a", "1"), ("b", "3"), ("c", "x,y")]


def test_caret_delimiter_allows_commas_in_values() -> None:
    request = parse_originate("{^^:absolute_codec_string=PCMU,PCMA:x=1}sofia/gateway/gw/1 &park()")
    assert dict(request.global_vars) == {"absolute_codec_string": "PCMU,PCMA", "x": "1"}


def test_sequential_and_simultaneous_legs() -> None:
    request = parse_originate(
        "sofia/gateway/a/1|[x=1,y=2]sofia/gateway/b/2,sofia/gateway/c/3 &bridge(user/agent1)"
    )
    groups = [[leg.target.gateway for leg in group] for group in request.groups]
    assert groups == [["a"], ["b", "c"]]
    assert request.groups[1][0].variables == (("x", "1"), ("y", "2"))
    assert (request.app, request.app_arg) == ("bridge", "user/agent1")


def test_profile_dial_string_and_dialplan_form() -> None:
    request = parse_originate(
        "sofia/external/sip:1000@10.0.0.5:5060;transport=tcp 9999 XML sales Jane 555 30"
    )
    target = request.first_leg.target
    assert (target.profile, target.destination, target.host) == (
        "external",
        "1000",
        "10.0.0.5:5060",
    )
    assert target.channel_name == "sofia/external/sip:1000@10.0.0.5:5060;transport=tcp"
    assert (request.exten, request.app, request.context) == ("9999", None, "sales")
    assert (request.cid_name, request.cid_num, request.timeout) == ("Jane", "555", 30)


@pytest.mark.parametrize(
    ("text", "endpoint", "destination"),
    [
        ("user/agent7@default", "user", "agent7"),
        ("error/user_busy", "error", "user_busy"),
        ("loopback/1000", "loopback", "1000"),
    ],
)
def test_other_endpoints(text: str, endpoint: str, destination: str) -> None:
    target = parse_dial_target(text)
    assert (target.endpoint, target.destination) == (endpoint, destination)


@pytest.mark.parametrize(
    "line",
    ["", "sofia/gateway/gw/1", "a b c d e f g h", "{a=b &park()", "{a=b} &park()"],
)
def test_malformed_lines_get_the_usage_or_an_error(line: str) -> None:
    with pytest.raises(OriginateUsageError) as raised:
        parse_originate(line)
    assert str(raised.value).startswith("-")


def test_separate_matches_switch_separate_string() -> None:
    assert fsstring.separate("  a  b\\ c  'd e'  ", " ") == ["a", "b\\ c", "d e"]
    assert fsstring.separate("a,,b,", ",") == ["a", "", "b"]
    assert fsstring.separate("a b c d", " ", 2) == ["a", "b c d"]
    assert fsstring.separate("x\\ny\\tz", "|") == ["x\ny\tz"]
    assert fsstring.separate("^^;a;b,c", ",") == ["a", "b,c"]
