"""`uuid_transfer` of an answered call to the inline dialplan, as a dialer ends a call with it.

    uuid_transfer <uuid> playback:<file>,hangup:<cause> inline

FreeSWITCH's inline dialplan reads `app:data` items split on `,` (or on `<c>` after `^^<c>`),
each split at its first `:`, and runs them in order; when they run out it hangs the channel
up. The simulator runs the two applications a dialer sends an answered callee to before
hanging up, `playback` (as long as the scenario's sound file plays, or FILE NOT FOUND at once
for any other file, as a real switch answers) and `hangup`. Any other dialplan, application or
leg flag it refuses with an `-ERR` a real switch would not give: it cannot know what they do,
and a test must fail rather than pass on a guess.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from kdial_sim import events, fsstring
from kdial_sim.channel import Channel
from kdial_sim.events import Stamper
from kdial_sim.protocol import EslEvent

USAGE = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
EXECUTE = "CHANNEL_EXECUTE"
EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"
_APPLICATIONS = frozenset({"playback", "hangup"})


class CannotEmulate(ValueError):
    """A transfer the simulator does not know how a real switch would carry out."""

    def reply(self) -> str:
        return f"-ERR kdial sim cannot emulate uuid_transfer: {self}\n"


@dataclass(frozen=True)
class Step:
    """One application of an inline dialplan."""

    app: str
    data: str


def parse_transfer(argv: list[str]) -> list[Step]:
    """The steps of `uuid_transfer`'s arguments after the UUID (`<dest> inline`)."""
    if argv and argv[0].startswith("-"):
        raise CannotEmulate(f"leg flag {argv[0]!r}")
    if len(argv) < 2 or argv[1] != "inline":
        raise CannotEmulate("only the inline dialplan")
    steps = []
    for item in fsstring.separate(argv[0], ","):
        app, _, data = item.partition(":")
        if app not in _APPLICATIONS:
            raise CannotEmulate(f"application {app!r}")
        steps.append(Step(app, data))
    return steps


def execute_event(
    name: str, ch: Channel, stamper: Stamper, step: Step, app_uuid: str, *, response: str | None
) -> EslEvent:
    """CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE: the channel's event with the application's
    headers at the bottom, where switch_core_session_exec adds them. Not from a capture."""
    event = events.channel_event(name, ch, stamper)
    headers = [
        ("Application", step.app),
        ("Application-Data", step.data),
        ("Application-UUID", app_uuid),
    ]
    if response is not None:
        headers.append(("Application-Response", response))
    return EslEvent(headers=event.headers + headers)


def new_app_uuid() -> str:
    return str(uuidlib.uuid4())
