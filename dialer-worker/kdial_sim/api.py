"""The API commands a dialer uses, answering in mod_commands' words.

`execute(command, arg)` returns exactly the text FreeSWITCH would put in an api/response body
or a BACKGROUND_JOB body; commands it does not have answer `-ERR <cmd> Command not found!`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable

from kdial_sim import bridging, dialplan, fsstring
from kdial_sim.calls import delay_seconds
from kdial_sim.causes import parse_cause
from kdial_sim.channel import Channel
from kdial_sim.gateways import ConfigRefused
from kdial_sim.originate import OriginateUsageError, parse_originate
from kdial_sim.switch import Switch

log = logging.getLogger(__name__)

VERSION = "1.11.1-kdial-sim"
_NO_SUCH_CHANNEL = "-ERR No such channel!\n"

Handler = Callable[[str | None], Awaitable[str]]


class Api:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self._handlers: dict[str, Handler] = {
            "originate": self.originate,
            "uuid_kill": self.uuid_kill,
            "uuid_transfer": self.uuid_transfer,
            "uuid_bridge": self.uuid_bridge,
            "uuid_exists": self.uuid_exists,
            "uuid_setvar": self.uuid_setvar,
            "uuid_getvar": self.uuid_getvar,
            "hupall": self.hupall,
            "sched_hangup": self.sched_hangup,
            "status": self.status,
            "show": self.show,
            "fsctl": self.fsctl,
            "version": self.version,
            "create_uuid": self.create_uuid,
            "hostname": self.hostname,
            "reloadxml": self.reloadxml,
            "sofia": self.sofia,
        }

    async def execute(self, command: str, arg: str | None) -> str:
        handler = self._handlers.get(command.lower())
        if handler is None:
            return f"-ERR {command} Command not found!\n"
        return await handler(arg)

    async def originate(self, arg: str | None) -> str:
        try:
            request = parse_originate(arg)
        except OriginateUsageError as exc:
            return str(exc)
        return await self.switch.originate(request)

    async def uuid_kill(self, arg: str | None) -> str:
        if not arg:
            return "-USAGE: <uuid> [cause]\n"
        uuid, _, cause = arg.partition(" ")
        found = self.switch.kill(uuid, parse_cause(cause, "NORMAL_CLEARING"))
        return "+OK\n" if found else _NO_SUCH_CHANNEL

    async def uuid_transfer(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 5)
        if not 2 <= len(argv) <= 5:
            return dialplan.USAGE
        call = self.switch.calls.get(argv[0])
        if call is None:
            return _NO_SUCH_CHANNEL
        try:
            steps = dialplan.parse_transfer(argv[1:])
        except dialplan.CannotEmulate as refused:
            return refused.reply()
        if not call.transfer(steps, dict(self.switch.scenario.switch.sounds)):
            return dialplan.CannotEmulate("a call not answered, or transferred already").reply()
        return "+OK\n"

    async def uuid_bridge(self, arg: str | None) -> str:
        """mod_commands uuid_bridge_function (see `kdial_sim.bridging`)."""
        argv = bridging.parse_bridge(arg)
        if argv is None:
            return bridging.USAGE
        originator = self.switch.calls.get(argv[0])
        for other in argv[1:3]:
            peer = self.switch.calls.get(other)
            if originator is None or peer is None or originator.channel.hangup_us:
                continue
            try:
                bridging.check(originator, peer)
            except bridging.CannotEmulate as refused:
                return refused.reply()
            originator.bridge_with(peer)
            return f"+OK {other}\n"
        return bridging.INVALID

    async def uuid_exists(self, arg: str | None) -> str:
        return "true" if arg and arg in self.switch.calls else "false"

    async def uuid_setvar(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 3)
        if len(argv) not in (2, 3) or not argv[0]:
            return "-USAGE: <uuid> <var> [value]\n"
        if not argv[1]:
            return "-ERR No variable specified\n"
        value = argv[2] if len(argv) == 3 else None
        return "+OK\n" if self.switch.set_var(argv[0], argv[1], value) else _NO_SUCH_CHANNEL

    async def uuid_getvar(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 4)
        if len(argv) < 2 or not argv[0]:
            return "-USAGE: <uuid> <var>\n"
        call = self.switch.calls.get(argv[0])
        if call is None:
            return _NO_SUCH_CHANNEL
        value = call.channel.variable(argv[1])
        return "_undef_" if value is None else value

    async def hupall(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 3)
        cause = parse_cause(argv[0] if argv else None, "MANAGER_REQUEST")
        if len(argv) == 3:
            self.switch.hupall(cause, argv[1], argv[2])
            return f"+OK hangup all channels matching [{argv[1]}]=[{argv[2]}] with cause: {cause}\n"
        self.switch.hupall(cause)
        return f"+OK hangup all channels with cause {cause}\n"

    async def sched_hangup(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 4)
        seconds = delay_seconds(argv[0], self.switch.clock.now()) if len(argv) >= 2 else None
        if seconds is None:
            return "-USAGE: [+]<time> <uuid> [<cause>]\n"
        cause = parse_cause(argv[2] if len(argv) > 2 else None, "ALLOTTED_TIMEOUT")
        if not self.switch.schedule_hangup(argv[1], seconds, cause):
            return _NO_SUCH_CHANNEL
        return "+OK\n"

    async def status(self, arg: str | None) -> str:
        sw = self.switch
        up = _uptime(sw.clock.elapsed())
        return (
            f"UP {up}\n"
            f"FreeSWITCH (Version {VERSION} 64bit) is ready\n"
            f"{sw.counters.since_start} session(s) since startup\n"
            f"{len(sw.calls)} session(s) - peak {sw.counters.peak}, last 5min {sw.counters.peak}\n"
            f"{sw.sps.current} session(s) per Sec out of max {sw.sps.limit}, "
            f"peak {sw.sps.peak}, last 5min {sw.sps.peak}\n"
            f"{sw.max_sessions} session(s) max\n"
            "min idle cpu 0.00/99.00\n"
            "Current Stack Size/Max 240K/8192K\n"
        )

    async def show(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 6)
        what = argv[0].lower() if argv else ""
        if what not in ("channels", "calls"):
            return "-USAGE: channels [count] [as json] | calls [count]\n"
        rows = self.switch.channels()
        count_only = len(argv) > 1 and argv[1].lower() == "count"
        rest = argv[2:] if count_only else argv[1:]
        as_json = len(rest) >= 2 and rest[0].lower() == "as" and rest[1].lower() == "json"
        if as_json:
            return _channels_json(rows, self.switch.stamper.identity.hostname, count_only)
        if count_only:
            return f"\n{len(rows)} total.\n"
        return _channels_csv(rows, self.switch.stamper.identity.hostname)

    async def fsctl(self, arg: str | None) -> str:
        argv = fsstring.separate(arg or "", " ", 5)
        if not argv:
            return "-USAGE: [hupall|sps|max_sessions|last_sps] [num]\n"
        sw, what = self.switch, argv[0].lower()
        value = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else None
        if what == "sps":
            if value:
                sw.sps.limit = value
            return f"+OK sessions per second: {sw.sps.limit}\n"
        if what == "max_sessions":
            if value:
                sw.max_sessions = value
            return f"+OK max sessions: {sw.max_sessions}\n"
        if what == "last_sps":
            return f"+OK last sessions per second: {sw.sps.last}\n"
        if what == "hupall":
            sw.hupall(parse_cause(argv[1] if len(argv) > 1 else None, "MANAGER_REQUEST"))
            return "+OK\n"
        if what == "shutdown":
            sw.request_shutdown(restart=len(argv) > 1 and argv[1].lower() == "restart")
            return "+OK\n"
        return "-ERR INVALID COMMAND\nUSAGE: fsctl [hupall|pause|resume|shutdown]\n"

    async def reloadxml(self, arg: str | None) -> str:
        """mod_commands reload_xml_function."""
        log.info("reloadxml")
        try:
            self.switch.reload_xml()
        except ConfigRefused as refused:
            return f"-ERR kdial sim cannot emulate this configuration: {refused}\n"
        return "+OK [Success]\n"

    async def sofia(self, arg: str | None) -> str:
        """The `sofia` commands a dialer uses on its gateways (mod_sofia.c: cmd_status,
        cmd_xml_status, cmd_profile); any other answers that the simulator has not got it."""
        argv = (arg or "").split()
        now = self.switch.clock.now()
        gateways = self.switch.gateways
        if (
            argv[:1] in (["status"], ["xmlstatus"])
            and len(argv) in (2, 3)
            and (len(argv) == 2 or argv[1].lower() == "gateway")
        ):
            xml = argv[0] == "xmlstatus"
            if len(argv) == 2:
                return gateways.xml_summary(now) if xml else gateways.status_summary(now)
            return gateways.xml_one(argv[2], now) if xml else gateways.status_one(argv[2], now)
        if argv[:1] == ["profile"] and len(argv) >= 3:
            return self._profile(argv[1], argv[2].lower(), argv[3:])
        return f"-ERR kdial sim cannot emulate sofia {arg or ''}\n"

    def _profile(self, profile: str, command: str, rest: list[str]) -> str:
        if profile != "external":
            return f"Invalid Profile [{profile}]"
        log.info("sofia profile %s %s %s", profile, command, " ".join(rest))
        if command == "rescan":
            try:
                self.switch.rescan()
            except ConfigRefused as refused:
                return f"-ERR kdial sim cannot emulate this configuration: {refused}\n"
            return "Reload XML [Success]\n+OK scan complete\n"
        if command == "killgw":
            if not rest:
                return "-ERR missing gw name\n"
            if rest[0] == "_all_":
                self.switch.gateways.loaded.clear()
                return "+OK every gateway marked for deletion.\n"
            if self.switch.gateways.kill(rest[0]):
                return "+OK gateway marked for deletion.\n"
            return "-ERR no such gateway.\n"
        return f"-ERR kdial sim cannot emulate sofia profile {profile} {command}\n"

    async def version(self, arg: str | None) -> str:
        return f"FreeSWITCH Version {VERSION} (kdial simulator)\n"

    async def create_uuid(self, arg: str | None) -> str:
        return str(uuidlib.uuid4())

    async def hostname(self, arg: str | None) -> str:
        return self.switch.stamper.identity.hostname


def _uptime(seconds: float) -> str:
    total_us = int(seconds * 1_000_000)
    parts = []
    for name, size in (
        ("year", 365 * 86400 * 10**6),
        ("day", 86400 * 10**6),
        ("hour", 3600 * 10**6),
        ("minute", 60 * 10**6),
        ("second", 10**6),
        ("millisecond", 1000),
        ("microsecond", 1),
    ):
        amount, total_us = divmod(total_us, size)
        parts.append(f"{amount} {name}{'' if amount == 1 else 's'}")
    return ", ".join(parts)


_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "write_codec",
    "write_rate",
    "callstate",
    "callee_num",
    "call_uuid",
    "hostname",
)


def _row(channel: Channel, hostname: str) -> dict[str, str]:
    created = channel.created_us // 1_000_000
    state = "CS_EXECUTE" if channel.cid_flipped else "CS_CONSUME_MEDIA"  # its application runs
    callstate = "ACTIVE" if channel.answered else ("RINGING" if channel.dialog else "DOWN")
    codec = "PCMU" if channel.media else ""
    return {
        "uuid": channel.uuid,
        "direction": "outbound",
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        "created_epoch": str(created),
        "name": channel.channel_name,
        "state": state,
        "cid_name": channel.cid_name,
        "cid_num": channel.cid_number,
        "ip_addr": channel.remote_host,
        "dest": channel.destination,
        "application": channel.app or "",
        "application_data": channel.app_arg or "",
        "dialplan": "XML",
        "context": channel.context,
        "read_codec": codec,
        "read_rate": "8000" if codec else "",
        "write_codec": codec,
        "write_rate": "8000" if codec else "",
        "callstate": callstate,
        "callee_num": channel.destination,
        "call_uuid": channel.uuid,
        "hostname": hostname,
    }


def _channels_csv(rows: list[Channel], hostname: str) -> str:
    lines = [",".join(_COLUMNS)]
    lines += [",".join(_row(ch, hostname).values()) for ch in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def _channels_json(rows: list[Channel], hostname: str, count_only: bool) -> str:
    if not rows:
        return '{"row_count": 0}\n'
    if count_only:
        return json.dumps({"row_count": len(rows)}, separators=(",", ":"))
    body = {"row_count": len(rows), "rows": [_row(ch, hostname) for ch in rows]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
