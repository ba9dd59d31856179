"""One simulated channel: who it calls, what it has been through, and its SIP particulars.

This is the state events are rendered from (see events.py); calls.py moves it along. Times are
scenario-clock microseconds since the epoch, 0 until the moment happens, as in FreeSWITCH.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from enum import StrEnum

from kdial_sim.originate import DialTarget


class Ending(StrEnum):
    """How the channel ended, which decides the SIP variables FreeSWITCH reports."""

    #: The far end answered the INVITE with an error (4xx/5xx/6xx): recv_refuse.
    REFUSED = "recv_refuse"
    #: We gave up before an answer (timeout, uuid_kill, hupall): send_cancel, 487.
    CANCELLED = "send_cancel"
    #: Answered, then the far end hung up: recv_bye, sip_term_status 200.
    REMOTE_BYE = "recv_bye"
    #: Answered, then we hung up: send_bye, no sip_term_status.
    LOCAL_BYE = "send_bye"


@dataclass(frozen=True)
class SipParticulars:
    """Per-call values FreeSWITCH reports but nobody decides: tags, ports, Call-ID, SSRC."""

    call_id: str
    from_tag: str
    to_tag: str
    branch: str
    cseq: int
    local_media_port: int
    remote_media_port: int
    ssrc: int
    local_sdp_session: int
    remote_sdp_session: int

    @classmethod
    def for_uuid(cls, uuid: str) -> SipParticulars:
        # Seeded by the UUID, so a replayed call renders the same bytes.
        rng = random.Random(uuid)
        return cls(
            call_id="-".join(_hex(rng, n) for n in (8, 4, 4, 4, 12)),
            from_tag=_token(rng, 13),
            to_tag=_token(rng, 14),
            branch="z9hG4bK" + _token(rng, 13),
            cseq=rng.randrange(100_000_000, 999_999_999),
            local_media_port=rng.randrange(16384, 32768, 2),
            remote_media_port=rng.randrange(6000, 7000, 2),
            ssrc=rng.randrange(1_000_000_000, 4_294_967_295),
            local_sdp_session=rng.randrange(1_700_000_000, 1_800_000_000),
            remote_sdp_session=rng.randrange(10_000_000, 99_999_999),
        )


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _token(rng: random.Random, n: int) -> str:
    # Always letters and digits both, like the tags SIP stacks make.
    chars = [rng.choice(string.ascii_letters) for _ in range(n - 2)]
    chars += [rng.choice(string.digits), rng.choice(string.digits)]
    rng.shuffle(chars)
    return "".join(chars)


@dataclass
class Channel:
    uuid: str
    session_id: int
    target: DialTarget
    #: The carrier's proxy (host, port), or the agent's phone.
    remote_host: str
    remote_port: int
    cid_number: str
    cid_name: str
    context: str
    #: `{}` and `[]` variables as given on the originate line, in order.
    user_vars: list[tuple[str, str]]
    app: str | None
    app_arg: str | None
    created_us: int
    sip: SipParticulars
    #: Variables set later (uuid_setvar, AMD), appended after the rest.
    extra_vars: dict[str, str] = field(default_factory=dict)
    progress_us: int = 0
    progress_media_us: int = 0
    answered_us: int = 0
    hangup_us: int = 0
    #: A provisional response with a To-tag arrived (a dialog exists).
    dialog: bool = False
    #: The originate completed and the channel runs its application (at answer, or at early
    #: media without ignore_early_media): its caller-ID fields flip, as FreeSWITCH shows.
    cid_flipped: bool = False
    hangup_cause: str | None = None
    ending: Ending | None = None
    #: The final SIP status of a refused INVITE.
    refusal_status: int | None = None
    #: The other leg's UUID once a `bridge` application connected the call.
    bridged_to: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_us > 0

    @property
    def media(self) -> bool:
        """Media is negotiated once the call is answered or sends early media."""
        return self.answered or self.progress_media_us > 0

    @property
    def destination(self) -> str:
        return self.target.destination

    @property
    def channel_name(self) -> str:
        return self.target.channel_name

    @property
    def remote(self) -> str:
        return f"{self.remote_host}:{self.remote_port}"

    def variable(self, name: str) -> str | None:
        if name in self.extra_vars:
            return self.extra_vars[name]
        for key, value in reversed(self.user_vars):
            if key == name:
                return value
        return None
