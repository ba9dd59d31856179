"""Event header sets, shaped like FreeSWITCH 1.11's own (see the captures in
shared/data/freeswitch-1.11-events): the same names, in the same order, with values of the same
form, for each stage a channel reaches (created, ringing, early media, answered, refused,
cancelled, hung up either way).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kdial_sim.causes import q850, sip_phrase
from kdial_sim.channel import Channel, Ending
from kdial_sim.clock import SimClock
from kdial_sim.protocol import EslEvent

Headers = list[tuple[str, str]]

CREATE = "CHANNEL_CREATE"
PROGRESS = "CHANNEL_PROGRESS"
PROGRESS_MEDIA = "CHANNEL_PROGRESS_MEDIA"
ANSWER = "CHANNEL_ANSWER"
BRIDGE = "CHANNEL_BRIDGE"
UNBRIDGE = "CHANNEL_UNBRIDGE"
HANGUP = "CHANNEL_HANGUP"
HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
DESTROY = "CHANNEL_DESTROY"
BACKGROUND_JOB = "BACKGROUND_JOB"
HEARTBEAT = "HEARTBEAT"

#: Where FreeSWITCH fires each event from (Event-Calling-File/-Function/-Line-Number).
_ORIGIN: dict[str, tuple[str, str, int]] = {
    CREATE: ("switch_core_state_machine.c", "switch_core_session_run", 627),
    PROGRESS: ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3566),
    PROGRESS_MEDIA: ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3745),
    ANSWER: ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    # Not from a capture (the 1.11 captures hold no bridge): where switch_ivr_bridge.c fires it.
    BRIDGE: ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1732),
    # Not from a capture either: fired by the same function once the bridge ends.
    UNBRIDGE: ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1895),
    HANGUP: ("switch_channel.c", "switch_channel_perform_hangup", 3438),
    HANGUP_COMPLETE: ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    DESTROY: ("switch_core_session.c", "switch_core_session_perform_destroy", 1586),
    BACKGROUND_JOB: ("mod_event_socket.c", "api_exec", 1572),
    HEARTBEAT: ("switch_core.c", "send_heartbeat", 98),
}

#: Channel-State, Channel-State-Number per event.
_STATE: dict[str, tuple[str, int]] = {
    CREATE: ("CS_INIT", 2),
    PROGRESS: ("CS_CONSUME_MEDIA", 7),
    PROGRESS_MEDIA: ("CS_CONSUME_MEDIA", 7),
    HANGUP_COMPLETE: ("CS_REPORTING", 11),
    DESTROY: ("CS_DESTROY", 12),
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Identity:
    """The switch as events name it."""

    core_uuid: str
    hostname: str
    ipv4: str
    ipv6: str
    sip_port: int


class Stamper:
    """Adds the headers every FreeSWITCH event starts with, and numbers the events."""

    def __init__(self, identity: Identity, clock: SimClock) -> None:
        self.identity = identity
        self.clock = clock
        self._sequence: Iterator[int] = itertools.count(1)

    def base(self, name: str) -> Headers:
        now_us = self.clock.now_us()
        seconds = now_us // 1_000_000
        local = time.localtime(seconds)
        gmt = time.gmtime(seconds)
        origin = _ORIGIN.get(name, ("switch_event.c", "switch_event_fire_detailed", 2000))
        ident = self.identity
        return [
            ("Event-Name", name),
            ("Core-UUID", ident.core_uuid),
            ("FreeSWITCH-Hostname", ident.hostname),
            ("FreeSWITCH-Switchname", ident.hostname),
            ("FreeSWITCH-IPv4", ident.ipv4),
            ("FreeSWITCH-IPv6", ident.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", local)),
            ("Event-Date-GMT", _gmt(gmt)),
            ("Event-Date-Timestamp", str(now_us)),
            ("Event-Calling-File", origin[0]),
            ("Event-Calling-Function", origin[1]),
            ("Event-Calling-Line-Number", str(origin[2])),
            ("Event-Sequence", str(next(self._sequence))),
        ]


def _gmt(t: time.struct_time) -> str:
    # Built by hand: strftime's day and month names follow the locale.
    day, month = _DAYS[t.tm_wday], _MONTHS[t.tm_mon - 1]
    return f"{day}, {t.tm_mday:02d} {month} {t.tm_year} {time.strftime('%H:%M:%S', t)} GMT"


def background_job(
    stamper: Stamper, job_uuid: str, command: str, arg: str | None, body: str
) -> EslEvent:
    headers = stamper.base(BACKGROUND_JOB)
    headers += [("Job-UUID", job_uuid), ("Job-Command", command)]
    if arg is not None:
        headers.append(("Job-Command-Arg", arg))
    return EslEvent(headers=headers, body=body)


def heartbeat(stamper: Stamper, info: dict[str, str]) -> EslEvent:
    headers = stamper.base(HEARTBEAT)
    headers += [("Event-Info", "System Ready"), *info.items()]
    return EslEvent(headers=headers)


def channel_event(name: str, ch: Channel, stamper: Stamper) -> EslEvent:
    headers = stamper.base(name)
    if name in (HANGUP, HANGUP_COMPLETE, DESTROY):
        headers.append(("Hangup-Cause", ch.hangup_cause or "NONE"))
    if name in (BRIDGE, UNBRIDGE) and ch.bridged_to:
        headers += [
            ("Bridge-A-Unique-ID", ch.uuid),
            ("Bridge-B-Unique-ID", ch.bridged_to),
            ("Other-Leg-Unique-ID", ch.bridged_to),
        ]
    headers += _channel_data(name, ch)
    if ch.media:
        headers += _codecs()
    headers += _caller_profile(name, ch)
    headers += [(f"variable_{k}", v) for k, v in _variables(name, ch, stamper.identity)]
    return EslEvent(headers=headers)


def _channel_data(name: str, ch: Channel) -> Headers:
    running = ("CS_EXECUTE", 4) if ch.cid_flipped else ("CS_CONSUME_MEDIA", 7)
    state, number = running if name == ANSWER else _STATE.get(name, running)
    executed = ch.cid_flipped and name in (HANGUP, HANGUP_COMPLETE, DESTROY)
    return [
        ("Channel-State", state),
        ("Channel-Call-State", _call_state(name, ch)),
        ("Channel-State-Number", str(number)),
        ("Channel-Name", ch.channel_name),
        ("Unique-ID", ch.uuid),
        ("Call-Direction", "outbound"),
        ("Presence-Call-Direction", "outbound"),
        ("Channel-HIT-Dialplan", "true" if executed else "false"),
        ("Channel-Call-UUID", ch.uuid),
        ("Answer-State", _answer_state(name, ch)),
    ]


def _call_state(name: str, ch: Channel) -> str:
    # FreeSWITCH fires each event before it updates the call state, so it shows the old one.
    if name in (HANGUP, HANGUP_COMPLETE, DESTROY):
        return "HANGUP"
    if name == ANSWER:
        return "EARLY" if ch.progress_media_us else "RINGING"
    if name == PROGRESS_MEDIA and ch.progress_us:
        return "RINGING"
    return "DOWN"


def _answer_state(name: str, ch: Channel) -> str:
    if name in (HANGUP, HANGUP_COMPLETE, DESTROY):
        return "hangup"
    if ch.answered:
        return "answered"
    return "early" if ch.progress_media_us else "ringing"


def _codecs() -> Headers:
    return [
        ("Channel-Read-Codec-Name", "PCMU"),
        ("Channel-Read-Codec-Rate", "8000"),
        ("Channel-Read-Codec-Bit-Rate", "64000"),
        ("Channel-Write-Codec-Name", "PCMU"),
        ("Channel-Write-Codec-Rate", "8000"),
        ("Channel-Write-Codec-Bit-Rate", "64000"),
    ]


def _caller_profile(name: str, ch: Channel) -> Headers:
    headers: Headers = [("Caller-Direction", "outbound"), ("Caller-Logical-Direction", "outbound")]
    if ch.cid_flipped:
        headers += _optional("Caller-Caller-ID-Name", "Outbound Call")
        headers += [
            ("Caller-Caller-ID-Number", ch.destination),
            ("Caller-Orig-Caller-ID-Number", ch.cid_number),
        ]
        headers += _optional("Caller-Callee-ID-Name", ch.cid_name)
        headers.append(("Caller-Callee-ID-Number", ch.cid_number))
    else:
        headers += _optional("Caller-Caller-ID-Name", ch.cid_name)
        headers += [
            ("Caller-Caller-ID-Number", ch.cid_number),
            ("Caller-Orig-Caller-ID-Number", ch.cid_number),
            ("Caller-Callee-ID-Name", "Outbound Call"),
            ("Caller-Callee-ID-Number", ch.destination),
        ]
    return headers + _caller_tail(ch)


def _optional(name: str, value: str) -> Headers:
    # FreeSWITCH leaves caller-profile fields out when they are empty.
    return [(name, value)] if value else []


def _caller_tail(ch: Channel) -> Headers:
    return [
        ("Caller-Network-Addr", ch.remote_host),
        ("Caller-ANI", ch.cid_number),
        ("Caller-Destination-Number", ch.destination),
        ("Caller-Unique-ID", ch.uuid),
        ("Caller-Source", "src/switch_ivr_originate.c"),
        ("Caller-Context", ch.context),
        ("Caller-Channel-Name", ch.channel_name),
        ("Caller-Profile-Index", "1"),
        ("Caller-Profile-Created-Time", str(ch.created_us)),
        ("Caller-Channel-Created-Time", str(ch.created_us)),
        ("Caller-Channel-Answered-Time", str(ch.answered_us)),
        ("Caller-Channel-Progress-Time", str(ch.progress_us)),
        ("Caller-Channel-Progress-Media-Time", str(ch.progress_media_us)),
        ("Caller-Channel-Hangup-Time", str(ch.hangup_us)),
        ("Caller-Channel-Transfer-Time", "0"),
        ("Caller-Channel-Resurrect-Time", "0"),
        ("Caller-Channel-Bridged-Time", "0"),
        ("Caller-Channel-Last-Hold", "0"),
        ("Caller-Channel-Hold-Accum", "0"),
        ("Caller-Screen-Bit", "true"),
        ("Caller-Privacy-Hide-Name", "false"),
        ("Caller-Privacy-Hide-Number", "false"),
    ]


def _variables(name: str, ch: Channel, ident: Identity) -> Headers:
    ended = name in (HANGUP, HANGUP_COMPLETE, DESTROY)
    flipped_end = ended and ch.answered
    variables = _prefix(ch, with_call_uuid=not flipped_end)
    if name != CREATE:
        variables += _sip_stage(ch, ident, ended)
    if ended:
        variables += _hangup(ch, complete=name != HANGUP)
    variables += list(ch.extra_vars.items())
    return variables


def _prefix(ch: Channel, *, with_call_uuid: bool) -> Headers:
    variables: Headers = [("direction", "outbound"), ("is_outbound", "true"), ("uuid", ch.uuid)]
    if with_call_uuid:
        variables.append(("call_uuid", ch.uuid))
    variables.append(("session_id", str(ch.session_id)))
    if ch.target.gateway is not None:
        variables += [("sip_gateway_name", ch.target.gateway), ("sip_profile_name", "gateway")]
    elif ch.target.profile is not None:
        variables.append(("sip_profile_name", ch.target.profile))
    variables += [
        ("video_media_flow", "disabled"),
        ("text_media_flow", "disabled"),
        ("channel_name", ch.channel_name),
        ("sip_destination_url", f"sip:{ch.destination}@{ch.remote}"),
    ]
    variables += ch.user_vars
    variables += [("originate_early_media", "false"), ("originate_endpoint", ch.target.endpoint)]
    return variables


def _sip_stage(ch: Channel, ident: Identity, ended: bool) -> Headers:
    """The SIP and media variables set so far: offer only, dialog, or dialog with media."""
    if ch.media:
        return _answered_media(ch, ident)
    offer = _offer(ch, ident)
    if ch.dialog:
        return offer + _route(ch, ident) + _dialog(ch, ident)
    if ended:
        return offer + _early_route(ch, ident)
    return offer + _route(ch, ident)


def _offer(ch: Channel, ident: Identity) -> Headers:
    return [
        ("rtp_use_codec_string", "PCMU,PCMA"),
        ("local_media_ip", ident.ipv4),
        ("local_media_port", str(ch.sip.local_media_port)),
        ("advertised_media_ip", ident.ipv4),
        ("audio_media_flow", "sendrecv"),
        ("rtp_local_sdp_str", _local_sdp(ch, ident)),
    ]


def _contact(ch: Channel, ident: Identity) -> str:
    gateway = ch.target.gateway or ch.target.profile or "external"
    return f"<sip:gw+{gateway}@{ident.ipv4}:{ident.sip_port};transport=udp;gw={gateway}>"


def _route(ch: Channel, ident: Identity) -> Headers:
    return [
        ("sip_outgoing_contact_uri", _contact(ch, ident)),
        ("sip_req_uri", f"{ch.destination}@{ch.remote}"),
        *_profile_vars(ident),
        ("sip_local_network_addr", ident.ipv4),
        *_reply_vars(ch),
    ]


def _early_route(ch: Channel, ident: Identity) -> Headers:
    """A refusal before any provisional response: fewer variables, sip_to_host with the port."""
    return [
        ("sip_outgoing_contact_uri", _contact(ch, ident)),
        ("sip_req_uri", f"{ch.destination}@{ch.remote}"),
        ("sip_to_host", ch.remote),
        ("sip_from_host", ident.ipv4),
        *_profile_vars(ident),
        ("sip_call_id", ch.sip.call_id),
        ("sip_local_network_addr", ident.ipv4),
        *_reply_vars(ch),
    ]


def _profile_vars(ident: Identity) -> Headers:
    return [
        ("sofia_profile_name", "external"),
        ("recovery_profile_name", "external"),
        ("sofia_profile_url", f"sip:mod_sofia@{ident.ipv4}:{ident.sip_port}"),
    ]


def _reply_vars(ch: Channel) -> Headers:
    return [
        ("sip_reply_host", ch.remote_host),
        ("sip_reply_port", str(ch.remote_port)),
        ("sip_network_ip", ch.remote_host),
        ("sip_network_port", str(ch.remote_port)),
    ]


def _dialog(ch: Channel, ident: Identity) -> Headers:
    via = f"SIP/2.0/UDP {ident.ipv4}:{ident.sip_port};branch={ch.sip.branch}"
    dest, cid, remote = ch.destination, ch.cid_number, ch.remote
    return [
        ("sip_recover_contact", f"<sip:{remote};transport=UDP>"),
        ("sip_full_via", via),
        ("sip_recover_via", via),
        ("sip_full_from", f"<sip:{cid}@{ident.ipv4}>;tag={ch.sip.from_tag}"),
        ("sip_full_to", f"<sip:{dest}@{remote}>;tag={ch.sip.to_tag}"),
        ("sip_from_user", cid),
        ("sip_from_uri", f"{cid}@{ident.ipv4}"),
        ("sip_from_host", ident.ipv4),
        ("sip_to_user", dest),
        ("sip_to_port", str(ch.remote_port)),
        ("sip_to_uri", f"{dest}@{remote}"),
        ("sip_to_host", ch.remote_host),
        ("sip_contact_params", "transport=UDP"),
        ("sip_contact_user", "nobody"),
        ("sip_contact_port", str(ch.remote_port)),
        ("sip_contact_uri", f"nobody@{remote}"),
        ("sip_contact_host", ch.remote_host),
        ("sip_to_tag", ch.sip.to_tag),
        ("sip_from_tag", ch.sip.from_tag),
        ("sip_cseq", str(ch.sip.cseq)),
        ("sip_call_id", ch.sip.call_id),
    ]


def _answered_media(ch: Channel, ident: Identity) -> Headers:
    head: Headers = [("audio_media_flow", "sendrecv"), ("rtp_local_sdp_str", _local_sdp(ch, ident))]
    return head + _route(ch, ident) + _dialog(ch, ident) + _media(ch, ident)


def _media(ch: Channel, ident: Identity) -> Headers:
    codec = "PCMU@8000h@20i@64000b"
    return [
        ("switch_r_sdp", _remote_sdp(ch)),
        ("ep_codec_string", f"CORE_PCM_MODULE.{codec},CORE_PCM_MODULE.PCMA@8000h@20i@64000b"),
        ("rtp_use_codec_string", "PCMU,PCMA"),
        ("remote_video_media_flow", "inactive"),
        ("remote_text_media_flow", "inactive"),
        ("remote_audio_media_flow", "sendrecv"),
        ("rtp_audio_recv_pt", "0"),
        ("rtp_use_codec_name", "PCMU"),
        ("rtp_use_codec_rate", "8000"),
        ("rtp_use_codec_ptime", "20"),
        ("rtp_use_codec_channels", "1"),
        ("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"),
        ("read_codec", "PCMU"),
        ("original_read_codec", "PCMU"),
        ("read_rate", "8000"),
        ("original_read_rate", "8000"),
        ("write_codec", "PCMU"),
        ("write_rate", "8000"),
        ("dtmf_type", "rfc2833"),
        ("local_media_ip", ident.ipv4),
        ("local_media_port", str(ch.sip.local_media_port)),
        ("advertised_media_ip", ident.ipv4),
        ("rtp_use_timer_name", "soft"),
        ("rtp_use_pt", "0"),
        ("rtp_use_ssrc", str(ch.sip.ssrc)),
        ("rtp_2833_send_payload", "101"),
        ("rtp_2833_recv_payload", "101"),
        ("remote_media_ip", ch.remote_host),
        ("remote_media_port", str(ch.sip.remote_media_port)),
    ]


def _local_sdp(ch: Channel, ident: Identity) -> str:
    session = ch.sip.local_sdp_session
    lines = [
        "v=0",
        f"o=FreeSWITCH {session} {session + 1} IN IP4 {ident.ipv4}",
        "s=FreeSWITCH",
        f"c=IN IP4 {ident.ipv4}",
        "t=0 0",
        f"m=audio {ch.sip.local_media_port} RTP/AVP 0 8 101 13",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=rtpmap:13 CN/8000",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return "".join(line + "\r\n" for line in lines)


def _remote_sdp(ch: Channel) -> str:
    session = ch.sip.remote_sdp_session
    lines = [
        "v=0",
        f"o=sipp {session} {session * 43 % 4_000_000_000} IN IP4 {ch.remote_host}",
        "s=-",
        f"c=IN IP4 {ch.remote_host}",
        "t=0 0",
        f"m=audio {ch.sip.remote_media_port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
    ]
    return "".join(line + "\r\n" for line in lines)


def _hangup(ch: Channel, *, complete: bool) -> Headers:
    cause = ch.hangup_cause or "NORMAL_CLEARING"
    variables = _hangup_sip(ch)
    variables += [("hangup_cause", cause), ("hangup_cause_q850", str(q850(cause)))]
    if complete:
        variables += _cdr(ch)
        if ch.answered:
            variables += _rtp_stats(ch)
    if ch.ending is Ending.CANCELLED:
        # FreeSWITCH records its own CANCEL last, after the CDR variables.
        variables += [
            ("sip_hangup_disposition", "send_cancel"),
            ("sip_invite_failure_status", "487"),
            ("sip_invite_failure_phrase", "CANCEL"),
        ]
    return variables


def _hangup_sip(ch: Channel) -> Headers:
    if ch.answered:
        variables: Headers = [
            ("endpoint_disposition", "ANSWER"),
            ("pre_transfer_caller_id_number", ch.cid_number),
            ("channel_cid_flipped", "yes"),
            ("call_uuid", ch.uuid),
        ]
        if ch.app:
            variables.append(("current_application", ch.app))
        if ch.ending is Ending.REMOTE_BYE:
            variables += _term_status(200, "NORMAL_CLEARING")
        return [*variables, ("sip_hangup_disposition", str(ch.ending or Ending.LOCAL_BYE))]
    # A 183 with SDP set it; nothing answered after.
    early: Headers = [("endpoint_disposition", "EARLY MEDIA")] if ch.progress_media_us else []
    if ch.ending is Ending.REFUSED and ch.refusal_status is not None:
        status = ch.refusal_status
        return [
            *early,
            ("sip_hangup_disposition", "recv_refuse"),
            ("sip_invite_failure_status", str(status)),
            ("sip_invite_failure_phrase", sip_phrase(status)),
            *_term_status(status, ch.hangup_cause or "NORMAL_UNSPECIFIED"),
        ]
    return early


def _term_status(status: int, cause: str) -> Headers:
    return [
        ("sip_term_status", str(status)),
        ("proto_specific_hangup_cause", f"sip:{status}"),
        ("sip_term_cause", str(q850(cause))),
    ]


def _stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us // 1_000_000))


def _cdr(ch: Channel) -> Headers:
    """The call-detail variables switch_channel_set_timestamps writes at reporting time."""
    variables: Headers = [("digits_dialed", "none")]
    stamps = [("start_stamp", ch.created_us), ("profile_start_stamp", ch.created_us)]
    stamps += [("answer_stamp", ch.answered_us), ("progress_stamp", ch.progress_us)]
    stamps += [("progress_media_stamp", ch.progress_media_us), ("end_stamp", ch.hangup_us)]
    variables += [(name, _stamp(us)) for name, us in stamps if us]
    variables += _epochs(ch)
    if ch.answered and ch.app:
        variables.append(("last_app", ch.app))
    variables.append(("caller_id", _caller_id(ch)))
    return variables + _durations(ch)


def _caller_id(ch: Channel) -> str:
    if ch.cid_flipped:
        return f'"Outbound Call" <{ch.destination}>'
    return f'"{ch.cid_name}" <{ch.cid_number}>' if ch.cid_name else ch.cid_number


def _epochs(ch: Channel) -> Headers:
    pairs = [
        ("start", ch.created_us),
        ("profile_start", ch.created_us),
        ("answer", ch.answered_us),
        ("bridge", 0),
        ("last_hold", 0),
    ]
    variables: Headers = []
    for name, us in pairs:
        variables += [(f"{name}_epoch", str(us // 1_000_000)), (f"{name}_uepoch", str(us))]
    variables += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0")]
    for name, us in (
        ("resurrect", 0),
        ("progress", ch.progress_us),
        ("progress_media", ch.progress_media_us),
        ("end", ch.hangup_us),
    ):
        variables += [(f"{name}_epoch", str(us // 1_000_000)), (f"{name}_uepoch", str(us))]
    return variables


def _durations(ch: Channel) -> Headers:
    """duration, billsec, ... in s, ms and us: differences of truncated times, as in C."""
    start, end = ch.created_us, ch.hangup_us
    spans = {
        "duration": (start, end),
        "billsec": (ch.answered_us, end),
        "progresssec": (start, ch.progress_us),
        "answersec": (start, ch.answered_us),
        "waitsec": (0, 0),
        "progress_mediasec": (start, ch.progress_media_us),
        "flow_billsec": (start, end if ch.answered else 0),
    }
    variables: Headers = []
    for unit, divisor in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
        for name, (begin, finish) in spans.items():
            key = name if unit == "sec" else _unit_name(name, unit)
            variables.append((key, str(_span(begin, finish, divisor))))
    return variables


def _unit_name(name: str, unit: str) -> str:
    if name == "duration":
        return "mduration" if unit == "msec" else "uduration"
    return name.removesuffix("sec") + unit


def _span(begin: int, finish: int, divisor: int) -> int:
    if not begin or not finish:
        return 0
    return finish // divisor - begin // divisor


def _rtp_stats(ch: Channel) -> Headers:
    packets = max(0, (ch.hangup_us - ch.answered_us) // 20_000)
    counts = {
        "in_raw_bytes": packets * 172,
        "in_media_bytes": packets * 160,
        "in_packet_count": packets,
        "in_media_packet_count": packets,
        "in_skip_packet_count": 0,
        "in_jitter_packet_count": 0,
        "in_dtmf_packet_count": 0,
        "in_cng_packet_count": 0,
        "in_flush_packet_count": 0,
        "in_largest_jb_size": 0,
    }
    variables: Headers = [(f"rtp_audio_{k}", str(v)) for k, v in counts.items()]
    variables += [
        ("rtp_audio_in_jitter_min_variance", "0.00"),
        ("rtp_audio_in_jitter_max_variance", "0.00"),
        ("rtp_audio_in_jitter_loss_rate", "0.00"),
        ("rtp_audio_in_jitter_burst_rate", "0.00"),
        ("rtp_audio_in_mean_interval", "20.00"),
        ("rtp_audio_in_flaw_total", "0"),
        ("rtp_audio_in_quality_percentage", "100.00"),
        ("rtp_audio_in_mos", "4.50"),
    ]
    out = {
        "out_raw_bytes": packets * 172,
        "out_media_bytes": packets * 160,
        "out_packet_count": packets,
        "out_media_packet_count": packets,
        "out_skip_packet_count": 0,
        "out_dtmf_packet_count": 0,
        "out_cng_packet_count": 0,
        "rtcp_packet_count": 0,
        "rtcp_octet_count": 0,
    }
    return variables + [(f"rtp_audio_{k}", str(v)) for k, v in out.items()]
