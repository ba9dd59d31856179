"""`Campaign` (camp): one kind of outbound work (专案) with its own rules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from kdial.api.meta import (
    ApiModel,
    Condition,
    FieldType,
    LocalObjectReference,
    Rule,
    StatusModel,
)

CLOCK = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"


#: A bridge to a SIP URI can miss the connect deadline; regulators then require a message.
ABANDON_MESSAGE_RULE = (
    "a campaign that bridges answered calls to destination.sipUri can abandon them: "
    "set pacing.abandonMessage, the recording those callees hear (regulators require one)"
)


class CampaignMode(StrEnum):
    PREDICTIVE = "Predictive"
    PROGRESSIVE = "Progressive"
    PREVIEW = "Preview"
    AGENTLESS = "Agentless"


class CampaignState(StrEnum):
    RUNNING = "Running"
    PAUSED = "Paused"
    STOPPED = "Stopped"


class Weekday(StrEnum):
    MON = "Mon"
    TUE = "Tue"
    WED = "Wed"
    THU = "Thu"
    FRI = "Fri"
    SAT = "Sat"
    SUN = "Sun"


class CallingWindow(ApiModel):
    """Hours in the callee's local time during which they may be called."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1, max_length=7)
    """Days of the week the window applies to, in the callee's local time."""
    start: str = Field(pattern=CLOCK, max_length=5)
    """Local time the window opens, `HH:MM` (24-hour clock)."""
    end: str = Field(pattern=CLOCK, max_length=5)
    """Local time the window closes, `HH:MM`, after `start`; `24:00` is midnight at the end of the
    day. A window cannot wrap past midnight: split it in two."""

    cel_rules = (
        Rule(
            "self.end > self.start",
            "end must be after start (a window cannot wrap past midnight: split it in two)",
            ".end",
        ),
    )


def _default_windows() -> list[CallingWindow]:
    return [CallingWindow(start="09:00", end="20:00")]


class Schedule(ApiModel):
    """When the campaign may dial."""

    windows: list[CallingWindow] = Field(
        default_factory=_default_windows, min_length=1, max_length=14
    )
    """Calling windows in each callee's local time, derived from their number. Defaults to
    09:00-20:00 every day."""
    fallback_time_zone: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$"
    )
    """IANA time zone (e.g. `Asia/Shanghai`) for callees whose number does not tell their time
    zone. When unset such callees are held, never dialled, rather than risk calling at night."""
    start_time: datetime | None = None
    """Dial nothing before this time (RFC 3339)."""

    @field_validator("fallback_time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        # A misspelt zone would silently hold every callee it was meant to let through.
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai)"
                ) from None
        return name

    end_time: datetime | None = None
    """Dial nothing after this time (RFC 3339)."""

    cel_rules = (
        Rule(
            "!has(self.startTime) || !has(self.endTime) || self.endTime > self.startTime",
            "endTime must be after startTime",
            ".endTime",
        ),
    )


class Pacing(ApiModel):
    """How fast the campaign dials, and the limits it keeps."""

    max_concurrency: int | None = Field(default=None, ge=1, le=100_000)
    """Most calls in flight at once for this campaign, across all workers. Required for
    Agentless campaigns, whose rate nothing else bounds."""
    max_dial_ratio: str | None = Field(
        default=None, max_length=5, pattern=r"^[0-9]{1,2}(\.[0-9]{1,2})?$"
    )
    """Most calls in flight per agent the campaign dials for, a decimal such as `"2.5"`
    (Predictive mode; 3 when unset); at least 1. It dials for its agents logged in and not
    NotReady: Ready, or Reserved, Talking or in WrapUp, whom a predictive dialer calls ahead
    of; an agent NotReady (on a break) counts for none. Workers are sized for every logged-in
    agent, so one back from a break finds them running."""
    max_abandon_percent: int = Field(default=3, ge=0, le=100)
    """Cap on abandoned calls (answered, no agent within the connect deadline) as a percentage of
    answered calls. Regulators set 3 (FCC, Ofcom)."""
    connect_deadline_seconds: int = Field(default=2, ge=1, le=10)
    """Seconds an answered callee may wait for an agent (or the bridge to a SIP URI
    destination) before the call counts as abandoned. The agent's phone rings within it
    (for 1 to 2 s with 2), so agents' phones should auto-answer."""
    abandon_message: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^/?[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$",
    )
    """Sound file on the switch (absolute, or relative to its sounds directory, e.g.
    `kdial/abandoned.wav`) played to an answered callee nobody takes within
    `connectDeadlineSeconds`, before the call is hung up and counted as abandoned. Regulators
    require it (Ofcom, FCC): it names the caller and a number to call back. Unset, such a
    callee is hung up on without a word; a campaign that bridges to `destination.sipUri` must
    set it."""
    ring_timeout_seconds: int = Field(default=30, ge=5, le=120)
    """Seconds a call may ring unanswered before it is given up as NoAnswer."""
    max_call_duration_seconds: int = Field(default=3600, ge=30, le=14_400)
    """Safety net: an answered call is hung up after this many seconds whatever happens."""

    cel_rules = (
        Rule(
            "!has(self.maxDialRatio) || double(self.maxDialRatio) >= 1.0",
            "maxDialRatio must be at least 1",
            ".maxDialRatio",
        ),
    )


#: Outcomes that may be retried; the rest always close the contact (see kdial.outcomes.Outcome).
RetryableOutcome = Literal[
    "AnsweredMachine",
    "Abandoned",
    "Busy",
    "NoAnswer",
    "Rejected",
    "Unreachable",
    "RiskBlocked",
    "CallLoss",
]


class RetryRule(ApiModel):
    """When to call a contact again after an attempt ended in one outcome (补呼)."""

    # maxLength bounds the API server's CEL cost estimate of the uniqueness rule.
    outcome: RetryableOutcome = Field(json_schema_extra={"maxLength": 32})
    """The outcome this rule applies to."""
    delay_minutes: int = Field(ge=0, le=43_200)
    """Minutes to wait before the next attempt. `CallLoss` is re-dialled at once on another trunk
    whatever this says."""
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    """Close the contact once this many attempts ended in this outcome."""


def _default_retry_rules() -> list[RetryRule]:
    return [
        RetryRule(outcome="CallLoss", delay_minutes=0),
        RetryRule(outcome="Busy", delay_minutes=10),
        RetryRule(outcome="NoAnswer", delay_minutes=60),
    ]


class Closure(ApiModel):
    """When a contact is finished whatever happened (结案规则)."""

    max_attempts: int = Field(default=3, ge=1, le=100)
    """Close a contact after this many attempts. Attempts that never left the switch (Cancelled)
    do not count."""
    within_days: int | None = Field(default=None, ge=1, le=365)
    """Close a contact this many days after its first attempt, even if attempts remain."""


class Retry(ApiModel):
    """Retry rules by outcome and the closure rule."""

    rules: list[RetryRule] = Field(default_factory=_default_retry_rules, max_length=8)
    """One rule per retryable outcome; an outcome without a rule closes the contact."""
    closure: Closure = Field(default_factory=Closure)
    """The closure rule."""

    cel_rules = (
        Rule(
            "!has(self.rules) || "
            "self.rules.all(r, self.rules.exists_one(s, s.outcome == r.outcome))",
            "each outcome may have one retry rule only",
            ".rules",
        ),
    )


class Trial(ApiModel):
    """Trial calls (试呼): dial a sample first, review it, then run the whole list."""

    sample_percent: int = Field(ge=1, le=100)
    """Share of the list to dial, in percent (3-5 is usual), and at least one contact of a list
    that has any. Remove `trial` to dial the rest."""


class WorkerBounds(ApiModel):
    """Bounds on the number of dialer workers (pods) the operator may run for the campaign."""

    min: int = Field(default=0, ge=0, le=1000)
    """Fewest workers while the campaign is Running and has contacts to call."""
    max: int = Field(default=10, ge=1, le=1000)
    """Most workers; at least `min`."""

    cel_rules = (Rule("self.min <= self.max", "min must not exceed max", ".min"),)


class Destination(ApiModel):
    """Where answered calls go in an Agentless campaign: a dialplan extension or a SIP URI."""

    extension: str | None = Field(default=None, pattern=r"^[0-9A-Za-z_*#+-]{1,64}$")
    """Dialplan extension (an IVR or a voice bot) answered calls are transferred to."""
    context: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Dialplan context of `extension`."""
    # user@host:port and nothing else: FreeSWITCH dial strings give meaning to `,` `|` `{}`
    # and to `:_:` (a second leg), none of which may reach a bridge from a spec.
    sip_uri: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^sips?:([A-Za-z0-9._~+-]+@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
    )
    """SIP URI answered calls are bridged to, `sip:user@host[:port]`."""

    cel_rules = (
        Rule(
            "has(self.extension) != has(self.sipUri)",
            "set exactly one of extension and sipUri",
        ),
    )


class Retention(ApiModel):
    """How long the campaign keeps data about its callees once it is done."""

    contact_data_days: int = Field(default=30, ge=1, le=3650)
    """Days a Completed campaign keeps its callees' data in Redis (contact ids, attempt
    histories, outcomes, attempt records with masked numbers), counted from completion; Redis
    then expires it, with or without a running operator. Counters and final progress stay,
    and the campaign does not take the same list again (a new Campaign, or another
    `contactListRef`, calls again). Deleting the campaign removes it all at once."""


#: A disposition code or field name: what reports and integrations switch on.
DISPOSITION_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"


class DispositionCode(ApiModel):
    """One way an agent may end a call's wrap-up (处理结果), and what it does to the contact."""

    code: str = Field(max_length=63, pattern=DISPOSITION_NAME)
    """The code agents send and reports count (`Sale`, `NotInterested`, `CallBack`)."""
    description: str = Field(default="", max_length=256)
    """What the code means, for the agent's desktop."""
    closes_contact: bool = False
    """The contact is finished (结案): never called again by this campaign."""
    call_back: bool = False
    """The agent must give a time (`callBackAt`) at which the contact is due again. Calling
    windows, do-not-call lists and the closure rule still hold when it comes due; a call-back
    after the last attempt the closure rule allows, or after its `withinDays`, is refused."""
    retry_delay_minutes: int = Field(default=60, ge=0, le=43_200)
    """For a code that neither closes the contact nor asks for a call-back: minutes until the
    contact is due again. A contact with no attempts left under the closure rule is closed
    instead."""

    cel_rules = (
        Rule(
            "!(self.closesContact && self.callBack)",
            "a code cannot both close the contact and ask for a call-back",
            ".callBack",
        ),
    )


class DispositionField(ApiModel):
    """A value the agent records with a disposition (a sale's amount, a survey answer)."""

    name: str = Field(max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The field's name in the disposition body."""
    type: FieldType = FieldType.STRING
    """String (at most 1024 characters), Integer, Decimal (a decimal string such as
    `"129.50"`), Boolean or Date (ISO 8601, `2026-07-31`)."""
    required: bool = False
    """A disposition without it is refused."""


class Dispositions(ApiModel):
    """How agents end wrap-up: the codes they choose from and the fields they fill in."""

    codes: list[DispositionCode] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["code"]},
    )
    """The codes agents choose from. With none, agents end wrap-up without a code."""
    fields: list[DispositionField] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Fields recorded with every disposition; a field not declared here is refused."""


class CampaignSpec(ApiModel):
    """A campaign: whom to call (a ContactList), over which lines (TrunkPools), showing which
    numbers (a CallerIdPool), when, how fast, and how often."""

    mode: CampaignMode
    """Predictive, Progressive, Preview or Agentless (answered calls go to `destination`)."""
    state: CampaignState = CampaignState.RUNNING
    """Running dials; Paused stops new calls, lets calls in flight finish and keeps everything;
    Stopped does the same and also removes the campaign's workers."""
    contact_list_ref: LocalObjectReference
    """The ContactList to call."""
    trunk_pool_refs: list[LocalObjectReference] = Field(min_length=1, max_length=8)
    """TrunkPools the campaign may dial over. Their gateways share each worker's switch, so no
    two of them may have a gateway trunk of the same name (`GatewayConflict`)."""
    caller_id_pool_ref: LocalObjectReference
    """The CallerIdPool whose numbers callees are shown."""
    suppression_list_refs: list[LocalObjectReference] = Field(default_factory=list, max_length=16)
    """ContactLists with purpose Suppress (do-not-call): their numbers are never dialled, including
    numbers added while the campaign runs."""
    schedule: Schedule = Field(default_factory=Schedule)
    """Calling windows and start/end times."""
    pacing: Pacing = Field(default_factory=Pacing)
    """Pacing and its limits."""
    retry: Retry = Field(default_factory=Retry)
    """Retry rules by outcome and the closure rule."""
    trial: Trial | None = None
    """Dial only a sample of the list first."""
    priority: int = Field(default=100, ge=0, le=1000)
    """Of campaigns sharing a trunk at its cap (calls up or calls per second), the one of
    highest priority waiting for it gets what frees there first; campaigns of equal priority
    take it as they ask. A campaign counts as waiting while it asks at least every 2 s."""
    workers: WorkerBounds = Field(default_factory=WorkerBounds)
    """Bounds on the number of dialer workers."""
    destination: Destination | None = None
    """Where answered calls go (Agentless campaigns)."""
    retention: Retention = Field(default_factory=Retention)
    """How long callees' data is kept after the campaign completes."""
    dispositions: Dispositions = Field(default_factory=Dispositions)
    """The disposition codes and fields agents end wrap-up with (modes with agents); each lands
    in the attempt record of the call."""

    cel_rules = (
        Rule(
            "self.mode != 'Agentless' || has(self.destination)",
            "an Agentless campaign needs destination: where answered calls go",
            ".destination",
        ),
        Rule(
            "self.mode != 'Agentless' || (has(self.pacing) && has(self.pacing.maxConcurrency))",
            "an Agentless campaign needs pacing.maxConcurrency",
            ".pacing.maxConcurrency",
        ),
        Rule(
            "!has(self.destination) || !has(self.destination.sipUri) || "
            "(has(self.pacing) && has(self.pacing.abandonMessage))",
            ABANDON_MESSAGE_RULE,
            ".pacing.abandonMessage",
        ),
    )


class Progress(StatusModel):
    """Where the campaign's contacts are."""

    total: int = 0
    """Contacts the campaign has taken from its list."""
    pending: int = 0
    """Contacts waiting for their next attempt (due now or later)."""
    in_flight: int = 0
    """Contacts in a call right now."""
    closed: int = 0
    """Contacts finished (结案)."""
    summary: str = ""
    """`closed/total (percent)`, for people."""


#: Most time zones `status.waiting.windows` lists; `window` counts the contacts of all.
MAX_WINDOW_ZONES = 24


class WindowWait(StatusModel):
    """Contacts of one time zone waiting for their calling window to open."""

    time_zone: str = ""
    """The callees' IANA time zone; several, comma-separated, for numbers that may be in any of
    them (they wait until the window is open in every one)."""
    contacts: int = 0
    """Contacts of this zone waiting for the window."""
    opens_at: str = ""
    """When the window next opens there: RFC 3339, in that zone's UTC offset (the first
    zone's, when several)."""


class Waiting(StatusModel):
    """Why pending contacts are not due now, counted as workers give them back: a contact
    leaves its count when its wait ends (it is due, if not yet claimed) or a worker claims
    it again."""

    window: int = 0
    """Contacts waiting for their calling window (`spec.schedule.windows`, in the callee's
    local time)."""
    windows: list[WindowWait] = Field(default_factory=list, max_length=MAX_WINDOW_ZONES)
    """Those contacts by time zone, with when each zone's window opens, soonest first (at
    most 24 zones)."""
    retry: int = 0
    """Contacts waiting out a retry delay (`spec.retry.rules`) after an attempt, or the
    re-dial delay after a worker was lost mid-call."""
    cap: int = 0
    """Contacts waiting for a dial permit: a trunk or caller ID was at its cap (concurrent
    calls, calls per second or per day), or no caller ID was free to show them."""
    trunk: int = 0
    """Contacts waiting for a trunk: none of the campaign's TrunkPools had one in service
    that serves the callee."""
    held: int = 0
    """Contacts held: their number tells no time zone and `spec.schedule.fallbackTimeZone` is
    unset (looked at again hourly), or no window is open at once in every zone it may be in
    (looked at again daily)."""
    suppressed: int = 0
    """Contacts closed without a call because their number is on a do-not-call list
    (`spec.suppressionListRefs`)."""


class CallStats(StatusModel):
    """Counts and rates over a period."""

    attempts: int = 0
    """Attempts that left the switch."""
    answered: int = 0
    """Attempts answered by a person or a machine."""
    abandoned: int = 0
    """Answered calls that found no agent within the connect deadline."""
    call_loss: int = 0
    """Attempts lost to line or network failures."""
    asr: str = ""
    """Answer-seizure ratio (接通率): answered / attempts, in percent."""
    abandon_rate: str = ""
    """Abandoned / answered, in percent."""
    call_loss_rate: str = ""
    """Call loss / attempts, in percent (呼损率)."""


class WorkerStatus(StatusModel):
    """The campaign's dialer workers."""

    desired: int = 0
    """Workers the operator wants, from demand and bounds."""
    ready: int = 0
    """Workers ready to dial."""
    summary: str = ""
    """`ready/desired`, for people."""


class AgentCounts(StatusModel):
    """The campaign's agents (Predictive, Progressive and Preview modes)."""

    logged_in: int = 0
    """Agents logged in to the campaign, whatever their state."""
    ready: int = 0
    """Agents Ready for a call now."""
    on_call: int = 0
    """Agents Reserved for, Talking on or wrapping up a call."""
    previews_skipped: int = 0
    """Preview mode: records skipped since the campaign began, by their agent or because
    none was chosen within the preview timeout. A skip makes no attempt: the contact is due
    again."""


class CampaignStatus(StatusModel):
    """The observed state of a campaign, written by the operator."""

    observed_generation: int | None = None
    """The `metadata.generation` this status describes."""
    conditions: list[Condition] = Field(default_factory=list, max_length=16)
    """`Ready` (the spec is valid, its references ready, its config compiled), `Dialing`,
    `Completed` and `Degraded`."""
    summary: str = ""
    """One word for people, derived from the conditions: Invalid, Waiting, Dialing, Idle,
    Paused, Stopped, Completed or Degraded."""
    progress: Progress = Field(default_factory=Progress)
    """Where the contacts are."""
    active_calls: int = 0
    """Calls in flight now."""
    waiting: Waiting = Field(default_factory=Waiting)
    """Why pending contacts wait, and how many were suppressed."""
    rolling: CallStats = Field(default_factory=CallStats)
    """Statistics over the last 15 minutes."""
    to_date: CallStats = Field(default_factory=CallStats)
    """Statistics since the campaign started."""
    workers: WorkerStatus = Field(default_factory=WorkerStatus)
    """Dialer workers."""
    agents: AgentCounts = Field(default_factory=AgentCounts)
    """Agents logged in to the campaign; workers scale with them in agent modes."""
    config_version: int | None = None
    """Version of the compiled runtime config the workers read."""
