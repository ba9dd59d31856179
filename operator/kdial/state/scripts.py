"""The data plane's Lua scripts, read once from the files beside this module."""

from __future__ import annotations

from importlib.resources import files


def _read(name: str) -> str:
    return files("kdial.state").joinpath(name).read_text("utf-8")


# The scripts that move contacts in or out of `due` keep why they wait (kdial.state.waits).
_WAITS = _read("waits.lua")

SEED = _WAITS + _read("seed.lua")
RETIRE = _WAITS + _read("retire.lua")
RETAIN = _read("retain.lua")
CLAIM = _WAITS + _read("claim.lua")
COMPLETE = _WAITS + _read("complete.lua")
RELEASE = _WAITS + _read("release.lua")
RENEW = _read("renew.lua")
#: A previewed record dialled or skipped, once (kdial.state.preview).
PREVIEW = _read("preview.lua")
RECLAIM = _WAITS + _read("reclaim.lua")
#: Untags contacts whose wait ended, for status (kdial.state.waits).
SETTLE = _WAITS + _read("settle.lua")

#: Seconds a per-minute counter bucket is kept: the longest rolling window plus slack.
MINUTE_BUCKET_TTL_SECONDS = 2 * 3600

#: Trunk and caller-ID caps (one script, the operation named in ARGV[1]).
CAPS = _read("caps.lua")

#: An agent's compare-and-set state change (kdial.state.agents).
AGENT = _read("agent.lua")
#: An agent's end of wrap-up with a disposition, and what it does to the contact.
DISPOSITION = _WAITS + _read("disposition.lua")
#: An agent's one seat across a namespace's campaigns (kdial.state.agents.Seat).
SEAT = _read("seat.lua")
#: The predictive pacer's lease and the dial permits it writes (kdial.state.keys, pacer_lease).
PACER = _read("pacer.lua")
