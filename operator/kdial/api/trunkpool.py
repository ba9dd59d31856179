"""`TrunkPool` (tp): carrier lines (线路 / 中继) and the policy that watches their health."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from kdial.api.meta import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    SIP_HOST,
    SIP_HOST_PORT,
    ApiModel,
    Condition,
    Rule,
    StatusModel,
)

_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 (a pattern of key names)
#: A SIP header name: a token, as carriers' own headers are (`X-Account`, `P-Charge-Info`).
_HEADER_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,62}$"
#: A header value: letters, digits, spaces and `._:@+=/-`. Nothing FreeSWITCH could read as
#: dial-string syntax (`{}[],|^'"`), a variable (`$`) or markup (`<>&`).
_HEADER_VALUE = r"^[A-Za-z0-9._:@+=/-]([A-Za-z0-9 ._:@+=/-]{0,126}[A-Za-z0-9._:@+=/-])?$"
#: Headers mod_sofia writes itself: a second copy would make the INVITE malformed or lie about
#: who calls (the caller ID goes where `callerIdIn` says).
_OWN_HEADERS = (
    "(?i)^(via|from|to|call-id|cseq|contact|max-forwards|route|record-route|content-type|"
    "content-length|authorization|proxy-authorization|p-asserted-identity|"
    "p-preferred-identity|remote-party-id|privacy|allow|supported|require|user-agent)$"
)


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class CallerIdIn(StrEnum):
    FROM = "From"
    P_ASSERTED_IDENTITY = "PAssertedIdentity"


class GatewayAuth(ApiModel):
    """Where the carrier account's credentials are: a Secret in the TrunkPool's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    """Name of the Secret."""
    username_key: str = Field(default="username", min_length=1, max_length=253, pattern=_SECRET_KEY)
    """Key of the Secret holding the SIP username (the digest user)."""
    password_key: str = Field(default="password", min_length=1, max_length=253, pattern=_SECRET_KEY)
    """Key of the Secret holding the SIP password."""


class SipHeader(ApiModel):
    """An extra SIP header sent on every INVITE through the gateway (an account or billing tag
    the carrier asks for)."""

    name: str = Field(max_length=63, pattern=_HEADER_NAME)
    """Header name, a SIP token such as `X-Account`. Headers FreeSWITCH writes itself (From,
    To, Contact, P-Asserted-Identity, ...) cannot be set."""
    value: str = Field(max_length=128, pattern=_HEADER_VALUE)
    """Header value: letters, digits, spaces and `._:@+=/-`, at most 128 characters."""

    cel_rules = (
        Rule(
            f"!self.name.matches('{_OWN_HEADERS}')",
            "FreeSWITCH writes this header itself; name another",
            ".name",
        ),
    )


class Gateway(ApiModel):
    """A FreeSWITCH gateway the operator configures in every worker's switch, named after the
    trunk (`sofia/gateway/<trunk name>/<number>`)."""

    proxy: str = Field(max_length=256, pattern=SIP_HOST_PORT)
    """The carrier's SIP host and optional port, `host[:port]`, e.g. `sip.carrier.example:5060`:
    where INVITEs (and REGISTERs) go."""
    realm: str | None = Field(default=None, max_length=253, pattern=SIP_HOST)
    """Authentication realm (domain) of the account; the proxy's host when unset."""
    transport: Transport = Transport.UDP
    """SIP transport to the carrier: udp, tcp or tls (tls needs the switch's TLS profile)."""
    # `register` on the wire; the Python name would shadow pydantic's ABC `register`.
    registers: bool = Field(default=False, alias="register")
    """Whether the switch registers the account with the carrier (carriers that authenticate by
    registration); a carrier that admits the switch by IP needs none."""
    auth_secret_ref: GatewayAuth | None = None
    """Secret with the account's username and password, used to register and to answer the
    carrier's authentication challenges. Required when `register` is true."""
    caller_id_in: CallerIdIn = CallerIdIn.FROM
    """Where the carrier reads the caller ID: `From` (the From header's user part) or
    `PAssertedIdentity` (a P-Asserted-Identity header; From then carries the account)."""
    headers: list[SipHeader] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Extra SIP headers sent on every call through the gateway, each name once."""

    cel_rules = (
        Rule(
            "!self.register || has(self.authSecretRef)",
            "a gateway that registers needs authSecretRef (the account's username and password)",
            ".authSecretRef",
        ),
    )


class Trunk(ApiModel):
    """One carrier line, reached through a FreeSWITCH gateway or a SIP URI."""

    name: str = Field(max_length=63, pattern=DNS_LABEL)
    """Name of the trunk within the pool; a gateway trunk's gateway has this name."""
    gateway: Gateway | None = None
    """The carrier's gateway: the operator writes it into every worker's switch, and calls go
    through it (`sofia/gateway/<name>/<number>`)."""
    sip_uri: str | None = Field(default=None, max_length=256, pattern=SIP_HOST_PORT)
    """SIP host (and port, 1-65535) to dial directly through the `external` profile instead of a
    gateway (`sofia/external/<number>@<sipUri>`), e.g. `sip.carrier.example:5060`."""
    max_concurrent_calls: int = Field(ge=1, le=100_000)
    """Most calls the carrier carries at once (one E1 carries 30)."""
    max_calls_per_second: int = Field(ge=1, le=1000)
    """Most new calls per second; carriers answer calls over their limit with 503, so kdial paces
    every trunk below it."""
    regions: list[str] = Field(default_factory=list, max_length=64)
    """Regions this trunk serves best (ISO 3166-1 like `CN`, or a subdivision like `CN-GD`)."""
    carriers: list[str] = Field(default_factory=list, max_length=16)
    """Callee carriers this trunk serves best, as phonenumbers names them (e.g. `China Mobile`)."""
    cost_per_minute_micros: int = Field(default=0, ge=0, le=1_000_000_000)
    """Cost of a minute in millionths of your currency unit; cheaper trunks get more weight."""
    priority: int = Field(default=100, ge=0, le=1000)
    """Higher-priority trunks get more weight."""

    cel_rules = (
        Rule("has(self.gateway) != has(self.sipUri)", "set exactly one of gateway and sipUri"),
    )


class HealthPolicy(ApiModel):
    """How line health is judged: the evidence needed, the thresholds, and ejection times."""

    window_seconds: int = Field(default=300, ge=30, le=86_400)
    """Period over which rates are measured."""
    min_samples: int = Field(default=20, ge=1, le=100_000)
    """Attempts needed before a trunk may be judged on its rates."""
    asr_floor_percent: int = Field(default=5, ge=0, le=100)
    """A trunk whose answer rate is confidently below this is degraded."""
    call_loss_ceiling_percent: int = Field(default=20, ge=1, le=100)
    """A trunk whose call-loss rate is confidently above this is ejected."""
    eject_seconds: int = Field(default=60, ge=5, le=86_400)
    """How long an ejected trunk rests before it is probed."""
    max_eject_seconds: int = Field(default=600, ge=5, le=86_400)
    """Repeated ejections double the rest time up to this."""
    probe_calls: int = Field(default=5, ge=1, le=1000)
    """Calls a probing trunk must complete well before it is healthy again."""

    cel_rules = (
        Rule(
            "self.maxEjectSeconds >= self.ejectSeconds",
            "maxEjectSeconds must be at least ejectSeconds",
            ".maxEjectSeconds",
        ),
    )


class TrunkPoolSpec(ApiModel):
    """Carrier lines the campaigns referring to this pool may use."""

    trunks: list[Trunk] = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The trunks, each with a unique name."""
    health: HealthPolicy = Field(default_factory=HealthPolicy)
    """The health policy."""


class TrunkState(StrEnum):
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    EJECTED = "Ejected"
    PROBING = "Probing"


class TrunkStatus(StatusModel):
    """The observed health of one trunk."""

    name: str
    """The trunk's name."""
    state: TrunkState = TrunkState.HEALTHY
    """Healthy, Degraded, Ejected or Probing."""
    weight: int = 0
    """Routing weight in the current generation; 0 takes no new calls."""
    attempts: int = 0
    """Attempts in the health window."""
    asr: str = ""
    """Answer-seizure ratio in the window, in percent."""
    call_loss_rate: str = ""
    """Call-loss rate in the window, in percent."""
    risk_blocked_rate: str = ""
    """Share of attempts in the window blocked by carrier or network policy (risk control), in
    percent: a sign of flagged caller IDs rather than a broken line."""
    pdd_p50_ms: int | None = None
    """Median post-dial delay over the window, in milliseconds (upper bound of its bin)."""
    pdd_p95_ms: int | None = None
    """95th percentile of the post-dial delay over the window, in milliseconds."""
    active_calls: int = 0
    """Calls up on this trunk now."""
    concurrency_use: str = ""
    """Calls up now against the trunk's maxConcurrentCalls, in percent."""
    reason: str = ""
    """Why the trunk is in its state."""
    gateway: str = ""
    """A gateway trunk's registration state as the workers' switches report it (`sofia status
    gateway`): REGED (registered), NOREG (does not register), TRYING, FAIL_WAIT, ... or Missing
    (a switch has not loaded it); the worst over the switches. Empty while none reports."""
    gateway_dialable: str = ""
    """`dialable/reporting` switches on which the gateway may be dialled: registered if it
    registers, up if it is pinged. A switch where it may not is a worker that skips the trunk."""
    last_transition_time: datetime | None = None
    """When the state last changed."""


class NetworkRouteStatus(StatusModel):
    """A trunk's route to one callee network that is out of health: the trunk takes none of
    that network's calls (Ejected), a probe's share (Probing) or half (Degraded), and keeps
    every other network's."""

    trunk: str
    """The trunk's name."""
    network: str
    """The callee network: its country and the carrier its numbers' range was allocated to,
    e.g. `cn-china-unicom`."""
    state: TrunkState
    """Degraded, Ejected or Probing."""
    reason: str = ""
    """Why, against the same network's calls on the other trunks."""
    last_transition_time: datetime | None = None
    """When the state last changed."""
    next_probe_time: datetime | None = None
    """When an Ejected route will be probed."""


class NetworkDownStatus(StatusModel):
    """A callee network that fails on every trunk at once: the callee side is down, not the
    lines, so no trunk is blamed and the network's contacts wait (their attempts are kept)
    until its probe."""

    network: str
    """The callee network, e.g. `cn-china-unicom`."""
    state: TrunkState
    """Ejected (down: its contacts wait) or Probing (probe calls go out)."""
    reason: str = ""
    """What was lost on each trunk."""
    last_transition_time: datetime | None = None
    """When the state last changed."""
    next_probe_time: datetime | None = None
    """When a down network will be probed."""


class TrunkPoolStatus(StatusModel):
    """The observed state of a trunk pool, written by the operator."""

    observed_generation: int | None = None
    """The `metadata.generation` this status describes."""
    conditions: list[Condition] = Field(default_factory=list, max_length=16)
    """`Ready` (valid and routable) and `Degraded` (some trunks out of service)."""
    trunks: list[TrunkStatus] = Field(default_factory=list, max_length=64)
    """Per-trunk health."""
    healthy: str = ""
    """`healthy/total` trunks, for people."""
    routing_generation: int = 0
    """Generation of the routing table the workers read."""
    network_routes: list[NetworkRouteStatus] = Field(default_factory=list, max_length=256)
    """Trunks' routes to callee networks that are out of health (each judged against the same
    network's calls on the other trunks)."""
    networks_down: list[NetworkDownStatus] = Field(default_factory=list, max_length=64)
    """Callee networks failing on every trunk at once, whose contacts wait."""
