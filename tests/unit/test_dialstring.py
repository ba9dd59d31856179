"""kdial.dialstring: channel variables, the originate command, and injection attempts.

The strongest check here is a round trip through `FreeSwitchModel`, a small model of how
FreeSWITCH reads an ``api originate`` line (mod_commands' space split, then the ``{...}``
block's comma and ``=`` splits, per switch_utils.c's separate_string and find_end_paren):
whatever a hostile value holds, either channel_var refuses it or the switch reads back exactly
that value under exactly that name, and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from kdial.dialstring import (
    Application,
    AppName,
    DialFormat,
    SipUri,
    abandon_command,
    agent_leg,
    agent_originate_command,
    bridge_command,
    channel_var,
    destination,
    originate_command,
)

NUMBER = "+8613812345678"
DEST = "sofia/gateway/carrier-a/8613812345678"


# --- a model of FreeSWITCH's parsing -----------------------------------------------------------

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _cleanup(item: str, delim: str) -> str:
    """Remove matched quotes and escapes, trim unquoted edge spaces (cleanup_separated_string)."""
    s = item.lstrip(" ")
    out: list[str] = []
    end = None
    inside = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            e = s[i + 1]
            if e in ("'", '"', "\\") or (delim and e == delim) or e in _UNESCAPE:
                out.append(_UNESCAPE.get(e, e))
                end = len(out)
                i += 2
                continue
        if c == "'" and (inside or "'" in s[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(c)
            if c != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end]) if end is not None else "".join(out)


def _split(buf: str, delim: str, limit: int = 1024) -> list[str]:
    """separate_string for a delimiter that is not a space."""
    starts: list[int] = []
    cuts: list[int] = []
    inside = False
    i = 0
    state_start = True
    while i < len(buf) and len(starts) < limit:
        if state_start:
            starts.append(i)
            state_start = False
            continue
        c = buf[i]
        if c == "\\":
            i += 1
        elif c == "'" and (inside or "'" in buf[i + 1 :]):
            inside = not inside
        elif c == delim and not inside:
            cuts.append(i)
            state_start = True
        i += 1
    parts = []
    for n, start in enumerate(starts):
        stop = cuts[n] if n < len(cuts) else len(buf)
        parts.append(_cleanup(buf[start:stop], delim))
    return parts


def _split_blank(buf: str) -> list[str]:
    """separate_string with a space: quotes group (always toggling), backslash escapes."""
    parts: list[str] = []
    cur: list[str] = []
    inside = False
    i = 0
    while i < len(buf):
        c = buf[i]
        if c == "\\" and i + 1 < len(buf):
            cur += [c, buf[i + 1]]
            i += 2
            continue
        if c == "'":
            inside = not inside
        if c == " " and not inside:
            if cur:
                parts.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        parts.append("".join(cur))
    return [_cleanup(p, "") for p in parts]


def _end_paren(s: str, open_: str, close: str) -> int:
    depth = 0
    for i, c in enumerate(s):
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
    raise AssertionError("unbalanced block")


@dataclass
class FreeSwitchModel:
    variables: dict[str, str] = field(default_factory=dict)
    destination: str = ""
    app_args: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, command: str) -> FreeSwitchModel:
        assert "\n" not in command and "\r" not in command, "ESL commands are one line"
        api, _, args = command.partition(" ")
        assert api == "originate"
        argv = _split_blank(args)
        data = argv[0]
        assert ":_:" not in data, "would become an enterprise originate"
        assert "origination_nested_vars=true" not in data.lower(), "would enable expansion"
        model = cls(app_args=argv[1:])
        while data.startswith("{"):
            end = _end_paren(data, "{", "}")
            block, data = data[1:end], data[end + 1 :]
            for item in _split(block, ","):
                kv = _split(item, "=", limit=2)
                if len(kv) == 2:
                    model.variables[kv[0]] = kv[1]
        model.destination = data
        return model


def test_the_model_reads_the_measured_originate_line() -> None:
    line = (
        "originate {origination_caller_id_number=02888880000,originate_timeout=20,"
        "ignore_early_media=true}sofia/gateway/carrier-a/13800138000 &park()"
    )
    model = FreeSwitchModel.read(line)
    assert model.variables == {
        "origination_caller_id_number": "02888880000",
        "originate_timeout": "20",
        "ignore_early_media": "true",
    }
    assert model.destination == "sofia/gateway/carrier-a/13800138000"
    assert model.app_args == ["&park()"]


def test_the_model_shows_why_quoting_alone_is_not_enough() -> None:
    # The space split strips the quotes before the block's comma split sees the value.
    naive = "originate {x='a,api_on_answer=system evil'}sofia/gateway/gw/1 &park()"
    assert FreeSwitchModel.read(naive).variables["api_on_answer"] == "system evil"
    # An unquoted space ends the dial-string argument: the block is cut in two.
    naive = "{x=a &system(evil)}sofia/gateway/gw/1 &park()"
    assert _split_blank(naive)[:2] == ["{x=a", "&system(evil)}sofia/gateway/gw/1"]


# --- channel_var -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "item"),
    [
        ("origination_uuid", "59c7314e-0b1a-474b-9754-ac156398715a", None),
        ("originate_timeout", "20", "originate_timeout=20"),
        ("x", "a,b", "x=a\\,b"),
        ("x", "a b", "x='a b'"),
        ("x", "a, b", "x='a\\, b'"),
        ("x", "k=v", "x=k=v"),
        ("x", "a|b&c", "x=a|b&c"),
        ("x", "<sip:1000@example.com>", "x=<sip:1000@example.com>"),
        ("origination_caller_id_name", "张三", "origination_caller_id_name=张三"),
        ("X_Custom_9", "100%", "X_Custom_9=100%"),
    ],
)
def test_channel_var_escapes_as_data(name: str, value: str, item: str | None) -> None:
    rendered = channel_var(name, value)
    if item is not None:
        assert rendered == item
    model = FreeSwitchModel.read(f"originate {{{rendered}}}{DEST} &park()")
    assert model.variables == {name: value}


@pytest.mark.parametrize(
    "name",
    ["", "a-b", "a b", "a=b", "a,b", "a{", "a}", "a'", "a\n", "名字", "ａ", "a" * 65, "a.b", "$a"],
)
def test_channel_var_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        channel_var(name, "1")


@pytest.mark.parametrize(
    "name",
    [
        "api_on_answer",
        "API_ON_ANSWER",
        "api_on_ring",
        "api_hangup_hook",
        "api_reporting_hook",
        "execute_on_answer",
        "execute_on_originate",
        "Execute_On_Media",
        "exec_after_bridge_app",
        "bridge_pre_execute_bleg_app",
        "session_in_hangup_hook",
        "transfer_after_bridge",
        "origination_nested_vars",
    ],
)
def test_channel_var_refuses_variables_that_execute_their_value(name: str) -> None:
    with pytest.raises(ValueError, match="executes"):
        channel_var(name, "system rm -rf /")
    # The caller's own constants may, explicitly.
    assert channel_var(name, "true", allow_exec=True) == f"{name}=true"


@pytest.mark.parametrize(
    "value",
    [
        "",
        " leading",
        "trailing ",
        "a\nb",
        "a\rb",
        "a\r\nbgapi system rm -rf /",
        "a\tb",
        "a\x00b",
        "a\x1bb",
        "a\x7fb",
        "a\x85b",  # NEL
        "a\u2028b",  # line separator
        "a\u2029b",
        "a\u202eb",  # bidi override
        "a\u200bb",  # zero-width space
        "a\u3000b",  # ideographic space: FreeSWITCH would not trim it, people would not see it
        "a}b",
        "a{b",
        "}sofia/gateway/evil/1 &park() {",
        "a]b",
        "a[b",
        "O'Brien",
        "'quoted'",
        'say "hi"',
        "back\\slash",
        "a\\,b",
        "${system rm -rf /}",
        "$${domain}",
        "cost $5",
        "x:_:sofia/gateway/evil/1",
        "origination_nested_vars=true",
        "ORIGINATION_NESTED_VARS=TRUE",
        "a" * 1025,
    ],
)
def test_channel_var_refuses_values_it_cannot_carry(value: str) -> None:
    with pytest.raises(ValueError, match="value"):
        channel_var("x", value)


# --- originate_command: structure --------------------------------------------------------------

_SHAPE = re.compile(r"originate \{([^{}]*)\}(sofia/gateway/[A-Za-z0-9_.-]+/[0-9]+) (&park\(\))")


def _variables() -> dict[str, str]:
    return {
        "origination_uuid": "59c7314e-0b1a-474b-9754-ac156398715a",
        "origination_caller_id_number": "02888880000",
        "originate_timeout": "20",
        "ignore_early_media": "true",
    }


def test_originate_command_shape() -> None:
    command = originate_command("carrier-a", NUMBER, _variables())
    assert command == (
        "originate {origination_uuid=59c7314e-0b1a-474b-9754-ac156398715a,"
        "origination_caller_id_number=02888880000,originate_timeout=20,"
        "ignore_early_media=true}sofia/gateway/carrier-a/8613812345678 &park()"
    )
    model = FreeSwitchModel.read(command)
    assert model.variables == _variables()
    assert model.destination == DEST
    assert model.app_args == ["&park()"]


def test_originate_command_without_variables_has_no_block() -> None:
    assert originate_command("gw", NUMBER) == "originate sofia/gateway/gw/8613812345678 &park()"


def test_max_call_seconds_sets_the_safety_net() -> None:
    command = originate_command("carrier-a", NUMBER, _variables(), max_call_seconds=3600)
    model = FreeSwitchModel.read(command)
    assert model.variables["execute_on_answer"] == "sched_hangup +3600 ALLOTTED_TIMEOUT"
    assert model.destination == DEST
    for bad in (0, -1, 24 * 3600 + 1):
        with pytest.raises(ValueError, match="max_call_seconds"):
            originate_command("gw", NUMBER, max_call_seconds=bad)


def test_variable_names_are_unique_regardless_of_case() -> None:
    with pytest.raises(ValueError, match="twice"):
        originate_command("gw", NUMBER, {"Originate_Timeout": "20", "originate_timeout": "30"})


# --- originate_command: injection attempts ------------------------------------------------------

# Values a contact row might carry: each is either carried exactly as data or refused.
HOSTILE_VALUES = [
    "a,b",
    "x,api_on_answer=system rm -rf /",
    "x, api_on_answer=system rm -rf /",
    "1,origination_nested_vars=true",
    "x}sofia/gateway/evil/1 &system(rm)",
    "{api_on_answer=system rm}",
    "x'y",
    "'x,api_on_answer=system evil'",
    "a|sofia/gateway/evil/1",
    "a&system(rm -rf /)",
    "a &system(rm -rf /)",
    "a\nbgapi system rm -rf /",
    "a\r\n\r\nbgapi system rm -rf /",
    "api_on_answer=system rm -rf /",
    "${system(rm -rf /)}",
    "x:_:sofia/gateway/evil/1",
    "a\\",
    "\\,",
    "a=b=c",
    "a b  c",
    "^^:a:b",
    "Zhang San, VIP | 张三",
    "١٢٣",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_variable_values_are_data_or_refused(value: str) -> None:
    variables = {**_variables(), "kdial_note": value}
    try:
        command = originate_command("carrier-a", NUMBER, variables)
    except ValueError:
        return
    assert command.count("{") == 1 and command.count("}") == 1
    match = _SHAPE.fullmatch(command)
    assert match is not None, command
    assert match.group(2) == DEST
    model = FreeSwitchModel.read(command)
    assert model.variables == variables  # exactly these names, exactly these values
    assert model.destination == DEST
    assert model.app_args == ["&park()"]


@pytest.mark.parametrize(
    "number",
    [
        "8613812345678",
        "+86 138 1234 5678",
        "+86-13812345678",
        "+8613812345678,user/1000",
        "+8613812345678|sofia/gateway/evil/1",
        "+8613812345678}",
        "+86138{x}12345678",
        "+8613812345678'",
        "+8613812345678 &system(rm)",
        "+8613812345678&park()",
        "+8613812345678\n",
        "+8613812345678\nbgapi system rm -rf /",
        "+8613812345678;transport=tcp",
        "+8613812345678@evil.example.com",
        "api_on_answer=system rm",
        "+\uff18\uff16\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "+\u0668\u0666\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666",
        "+1",
        "",
    ],
)
def test_numbers_must_be_e164_digits(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        originate_command("carrier-a", number, _variables())


@pytest.mark.parametrize(
    "gateway",
    [
        "",
        "gw/evil",
        "gw evil",
        "gw,x",
        "gw|x",
        "gw{x}",
        "gw\n",
        "gw'",
        "gw&park()",
        "网关",
        "g" * 129,
    ],
)
def test_gateway_names_are_validated(gateway: str) -> None:
    with pytest.raises(ValueError, match="gateway"):
        originate_command(gateway, NUMBER)


@pytest.mark.parametrize(
    ("number", "fmt", "prefix", "expected"),
    [
        ("+8613812345678", DialFormat.E164, "", "sofia/gateway/gw.1/8613812345678"),
        ("+8613812345678", DialFormat.NATIONAL, "", "sofia/gateway/gw.1/13812345678"),
        ("+862088888888", DialFormat.NATIONAL, "", "sofia/gateway/gw.1/02088888888"),
        ("+862088888888", DialFormat.NATIONAL, "9", "sofia/gateway/gw.1/902088888888"),
        ("+14155552671", DialFormat.NATIONAL, "", "sofia/gateway/gw.1/4155552671"),
        ("+14155552671", DialFormat.E164, "00", "sofia/gateway/gw.1/0014155552671"),
    ],
)
def test_destination_formats(number: str, fmt: DialFormat, prefix: str, expected: str) -> None:
    assert destination("gw.1", number, dial_format=fmt, dial_prefix=prefix) == expected


def test_a_number_without_a_national_form_is_refused() -> None:
    with pytest.raises(ValueError, match="national form"):
        destination("gw", "+9991234567", dial_format=DialFormat.NATIONAL)


@pytest.mark.parametrize("prefix", ["+", "a", "123456789", "9,", "9|", "\uff19", " 9"])
def test_dial_prefix_is_digits_only(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        destination("gw", NUMBER, dial_prefix=prefix)


# --- SIP URI trunks: no gateway, the carrier's host in the dial string ---------------------------


@pytest.mark.parametrize(
    ("host", "number", "fmt", "prefix", "expected"),
    [
        ("sip.carrier.example", NUMBER, DialFormat.E164, "", "8613812345678@sip.carrier.example"),
        ("10.0.0.5:5060", NUMBER, DialFormat.E164, "", "8613812345678@10.0.0.5:5060"),
        (
            "Sip.Carrier-A.example:65535",
            NUMBER,
            DialFormat.E164,
            "",
            f"{NUMBER[1:]}@Sip.Carrier-A.example:65535",
        ),
        ("10.0.0.5", "+862088888888", DialFormat.NATIONAL, "9", "902088888888@10.0.0.5"),
        (
            "a" * 63 + ".example:1",
            NUMBER,
            DialFormat.E164,
            "00",
            f"008613812345678@{'a' * 63}.example:1",
        ),
    ],
)
def test_a_sip_uri_trunk_sends_the_number_as_the_user_part_at_its_host(
    host: str, number: str, fmt: DialFormat, prefix: str, expected: str
) -> None:
    dest = destination(SipUri(host), number, dial_format=fmt, dial_prefix=prefix)
    assert dest == f"sofia/external/{expected}"

    command = originate_command(SipUri(host), number, _variables(), dial_format=fmt)
    model = FreeSwitchModel.read(command)
    assert model.destination == destination(SipUri(host), number, dial_format=fmt)
    assert model.variables == _variables()
    assert model.app_args == ["&park()"]


@pytest.mark.parametrize(
    "host",
    [
        "",
        "sip:carrier.example",
        "1000@carrier.example",
        "carrier.example;transport=tcp",
        "carrier.example,10.0.0.6",
        "carrier.example|sofia/gateway/evil",
        "carrier.example/x",
        "carrier.example 5060",
        "carrier.example &system(rm)",
        "carrier.example&park()",
        "carrier.example\n",
        "carrier.example\nbgapi system rm -rf /",
        "{api_on_answer=system rm}carrier.example",
        "[x=1]carrier.example",
        "${system(rm)}",
        "x:_:sofia/gateway/evil/1",
        "'carrier.example'",
        "carrier.example:",
        "carrier.example:0",
        "carrier.example:65536",
        "carrier.example:05060",
        "carrier.example:5060:5060",
        "-carrier.example",
        "carrier-.example",
        "carrier..example",
        ".carrier.example",
        "carrier.example.",
        "carrier_a.example",
        "[::1]:5060",
        "网关.example",
        "ｃarrier.example",
        "a" * 64 + ".example",
        ("a" * 63 + ".") * 4 + "example",
    ],
)
def test_sip_uri_hosts_are_validated(host: str) -> None:
    with pytest.raises(ValueError, match="SIP URI"):
        originate_command(SipUri(host), NUMBER)


@pytest.mark.parametrize(
    "number",
    [
        "8613812345678",
        "+8613812345678@evil.example.com",
        "+8613812345678;transport=tcp",
        "+8613812345678,user/1000",
        "+8613812345678\n",
        "+\uff18\uff16\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
    ],
)
def test_a_sip_uri_trunk_validates_the_number_as_a_gateway_does(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        originate_command(SipUri("sip.carrier.example"), number, _variables())


def test_a_trunk_that_is_neither_a_gateway_name_nor_a_sip_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="gateway"):
        destination(None, NUMBER)  # type: ignore[arg-type]


# --- applications ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (Application.park(), ["&park()"]),
        (Application.bridge("user/1001"), ["&bridge(user/1001)"]),
        (Application.bridge("user/1001@pbx.example.com"), ["&bridge(user/1001@pbx.example.com)"]),
        (
            Application.bridge("sofia/internal/1001@10.0.0.5:5060"),
            ["&bridge(sofia/internal/1001@10.0.0.5:5060)"],
        ),
        (Application.bridge("sofia/gateway/gw2/8613900000000"), None),
        (Application.transfer("9999"), ["9999", "XML", "default"]),
        (Application.transfer("*98", "agents"), ["*98", "XML", "agents"]),
        (Application.socket("127.0.0.1", 8084), ["&socket(127.0.0.1:8084 async full)"]),
        (Application.socket("esl.kdial", 8084, async_mode=False), ["&socket(esl.kdial:8084 full)"]),
        (
            Application.socket("esl", 8084, async_mode=False, full=False),
            ["&socket(esl:8084)"],
        ),
        (Application(AppName.TRANSFER, ("1000",)), ["1000", "XML", "default"]),
    ],
)
def test_applications_reach_the_switch_as_one_argument_set(
    app: Application, args: list[str] | None
) -> None:
    command = originate_command("carrier-a", NUMBER, _variables(), application=app)
    model = FreeSwitchModel.read(command)
    assert model.destination == DEST
    assert model.variables == _variables()
    if args is not None:
        assert model.app_args == args
    assert command.count("{") == 1 and command.count("}") == 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: Application.bridge("user/1000,user/1001"),
        lambda: Application.bridge("user/1000|user/1001"),
        lambda: Application.bridge("user/1000 &system(rm)"),
        lambda: Application.bridge("{api_on_answer=system rm}user/1000"),
        lambda: Application.bridge("[x=1]user/1000"),
        lambda: Application.bridge("user/1000@host;transport=tcp"),
        lambda: Application.bridge("loopback/9999"),
        lambda: Application.bridge("error/user_busy"),
        lambda: Application.bridge("sofia/gateway/gw/+8613800000000"),
        lambda: Application.bridge("${system(rm)}"),
        lambda: Application.bridge("user/1000\n"),
        lambda: Application.bridge(""),
        lambda: Application.transfer("9999 XML evil"),
        lambda: Application.transfer("9999,1"),
        lambda: Application.transfer("9999", "evil context"),
        lambda: Application.transfer("9999", "a|b"),
        lambda: Application.transfer(""),
        lambda: Application.socket("127.0.0.1", 0),
        lambda: Application.socket("127.0.0.1", 65536),
        lambda: Application.socket("127.0.0.1 evil", 8084),
        lambda: Application.socket("127.0.0.1)&system(rm", 8084),
        lambda: Application.socket("-evil", 8084),
        lambda: Application(AppName.PARK, ("x",)),
        lambda: Application(AppName.BRIDGE, ()),
        lambda: Application(AppName.BRIDGE, ("user/1", "user/2")),
        lambda: Application(AppName.TRANSFER, ("1", "ctx", "extra")),
        lambda: Application(AppName.SOCKET, ()),
        lambda: Application(AppName.SOCKET, ("127.0.0.1:8084", "async", "async")),
        lambda: Application(AppName.SOCKET, ("127.0.0.1:8084", "evil")),
        lambda: Application("system", ("rm -rf /",)),  # type: ignore[arg-type]
        lambda: Application("park", ()),  # type: ignore[arg-type]  # a str is not an AppName
    ],
)
def test_application_arguments_are_validated(build: object) -> None:
    with pytest.raises(ValueError, match="application"):
        build()  # type: ignore[operator]


def test_application_is_immutable() -> None:
    app = Application.park()
    with pytest.raises(AttributeError):
        app.args = ("x",)  # type: ignore[misc]


# --- the abandon message -------------------------------------------------------------------------

CALL = "0b4e7d3c-2f1a-5c6e-9d8b-7a6f5e4d3c2b"


def test_abandon_command_plays_the_message_then_hangs_up_inline() -> None:
    assert abandon_command(CALL, "kdial/abandoned.wav") == (
        f"uuid_transfer {CALL} playback:kdial/abandoned.wav,hangup:NORMAL_CLEARING inline"
    )


@pytest.mark.parametrize(
    "message",
    [
        "x.wav,transfer:9999",
        "x.wav inline",
        "../x.wav",
        "x.wav\napi hupall",
        "$x.wav",
        "tts://flite|kal|hi",
        "",
        "a" * 257,
    ],
)
def test_abandon_command_refuses_a_message_that_is_not_a_plain_file(message: str) -> None:
    with pytest.raises(ValueError, match="sound file path"):
        abandon_command(CALL, message)


@pytest.mark.parametrize("uuid", ["", "not-a-uuid", CALL.upper(), f"{CALL} inline", f"{CALL}\n"])
def test_abandon_command_refuses_anything_but_a_call_uuid(uuid: str) -> None:
    with pytest.raises(ValueError, match="UUID"):
        abandon_command(uuid, "kdial/abandoned.wav")


@pytest.mark.parametrize(
    ("endpoint", "leg"),
    [
        ("1001", "user/1001"),
        ("agent.7+x_y-z", "user/agent.7+x_y-z"),
        ("sip:1001@pbx.example.com", "sofia/external/1001@pbx.example.com"),
        ("sip:ana@10.0.0.9:5062", "sofia/external/ana@10.0.0.9:5062"),
    ],
)
def test_an_agents_endpoint_becomes_their_leg(endpoint: str, leg: str) -> None:
    assert agent_leg(endpoint) == leg


@pytest.mark.parametrize(
    "endpoint",
    [
        "",
        "1001@pbx.example.com",  # a user with a host but no scheme
        "user/1001",
        "1001,api_on_answer=system",
        "sip:1001@pbx.example.com;transport=tcp",
        "sip:1001@pbx.example.com:99999",
        "sip:@pbx.example.com",
        "sip:1 001@pbx",
        "1001\nbgapi originate",
        "sips:1001@pbx.example.com",
    ],
)
def test_an_endpoint_that_is_not_one_of_the_two_shapes_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"agent endpoint|SIP URI"):
        agent_leg(endpoint)


def test_an_agent_leg_is_rung_and_parked_and_bridged_by_uuid() -> None:
    command = agent_originate_command(
        "sip:ana@pbx.example.com", {"origination_uuid": "u-1", "originate_timeout": "3"}
    )
    assert command == (
        "originate {origination_uuid=u-1,originate_timeout=3}"
        "sofia/external/ana@pbx.example.com &park()"
    )
    a, b = "0f1c2f5e-8d3a-4c55-9a47-3c7d5b0e9a10", "1f1c2f5e-8d3a-4c55-9a47-3c7d5b0e9a10"
    assert bridge_command(a, b) == f"uuid_bridge {a} {b}"
    with pytest.raises(ValueError, match="UUID"):
        bridge_command(a, f"{b} {a}")
