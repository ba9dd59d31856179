"""Client commands, recognised the way mod_event_socket's parse_command recognises them.

FreeSWITCH matches commands by case-insensitive prefix in a fixed order (so `exit` also matches
`exitnow`); anything it does not know, and anything but `auth` before authentication, gets
`-ERR command not found`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kdial_sim.protocol import ClientMessage


@dataclass(frozen=True)
class Auth:
    password: str


@dataclass(frozen=True)
class Exit:
    pass


@dataclass(frozen=True)
class Api:
    command: str
    arg: str | None


@dataclass(frozen=True)
class BgApi:
    command: str
    arg: str | None
    #: A client may choose the job's UUID with a `Job-UUID` header.
    job_uuid: str | None


@dataclass(frozen=True)
class Subscribe:
    """`event [plain|json|xml] <names...>`: the first word may switch the format."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Unsubscribe:
    """`nixevent <names...>`."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class NoEvents:
    pass


@dataclass(frozen=True)
class MyEvents:
    uuid: str
    fmt: str | None


@dataclass(frozen=True)
class Filter:
    #: `add` or `delete`
    action: str
    header: str
    value: str | None


@dataclass(frozen=True)
class SendMsg:
    uuid: str | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reply:
    """A command answered with a fixed command/reply text (log, linger, sendevent, ...)."""

    text: str


Command = (
    Auth | Exit | Api | BgApi | Subscribe | Unsubscribe | NoEvents | MyEvents | Filter | SendMsg
)

NOT_FOUND = "-ERR command not found"


def parse_command(message: ClientMessage, authed: bool) -> Command | Reply:
    line = message.command.strip("\r\n")
    lower = line.lower()
    if lower.startswith(("exit", "...")):
        return Exit()
    if not authed:
        if lower.startswith("auth "):
            return Auth(password=line[5:])
        if lower.startswith("userauth "):
            return Reply("-ERR invalid")
        return Reply(NOT_FOUND)
    return _parse_authed(line, lower, message)


def _parse_authed(line: str, lower: str, message: ClientMessage) -> Command | Reply:
    if lower.startswith("filter "):
        return _parse_filter(line[7:])
    if lower.startswith("myevents"):
        return _parse_myevents(line[8:])
    if lower.startswith("divert_events"):
        return Reply("-ERR not controlling a session.")
    if lower.startswith("sendmsg"):
        return SendMsg(
            uuid=line[7:].strip() or message.header("session-id"), headers=message.headers
        )
    if lower.startswith("sendevent"):
        return Reply("+OK")
    if lower.startswith("api "):
        command, arg = split_api(line[4:])
        return Api(command=command, arg=arg)
    if lower.startswith("bgapi "):
        command, arg = split_api(line[6:])
        return BgApi(command=command, arg=arg, job_uuid=message.header("Job-UUID"))
    return _parse_listener_command(line, lower)


def _parse_listener_command(line: str, lower: str) -> Command | Reply:
    if lower.startswith("log"):
        level = line[4:].strip() or "debug"
        return Reply(f"+OK log level {level} [7]")
    if lower.startswith(("linger", "nolinger")):
        return Reply("-ERR not controlling a session")
    if lower.startswith("nolog"):
        return Reply("-ERR not loging")
    if lower.startswith("event"):
        return Subscribe(words=tuple(line[5:].split()))
    if lower.startswith("nixevent"):
        return Unsubscribe(words=tuple(line[8:].split()))
    if lower.startswith("noevents"):
        return NoEvents()
    return Reply(NOT_FOUND)


def split_api(text: str) -> tuple[str, str | None]:
    """`<command> <arg>` split at the first space, as mod_event_socket splits it."""
    command, sep, arg = text.partition(" ")
    return command, (arg if sep else None)


def _parse_filter(rest: str) -> Filter | Reply:
    rest = rest.lstrip(" ")
    name, sep, value = rest.partition(" ")
    if name.lower() == "delete" and sep:
        header, sep2, header_value = value.partition(" ")
        return Filter(action="delete", header=header, value=header_value if sep2 else None)
    if not sep:
        return Reply("-ERR invalid syntax")
    if name.lower() == "add":
        name, _, value = value.partition(" ")
    return Filter(action="add", header=name, value=value)


def _parse_myevents(rest: str) -> MyEvents | Reply:
    words = rest.split()
    if not words:
        return Reply("-ERR invalid uuid")
    return MyEvents(uuid=words[0], fmt=words[1].lower() if len(words) > 1 else None)
