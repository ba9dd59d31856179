"""The scenario file: what the simulated switch, its carriers, the callees and agents do.

YAML keys are camelCase; every time is in seconds of scenario time (`--speed N` runs them N
times faster). `examples/sim/scenario.yaml` documents each key. Errors name the offending key
path, e.g. `carriers.carrier-a.answerProbability: Input should be less than or equal to 1`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from kdial_sim import causes
from kdial_sim.distributions import Distribution, Fixed, LogNormal, Uniform

Probability = Annotated[float, Field(ge=0, le=1)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SwitchSpec(Model):
    """The simulated FreeSWITCH itself."""

    #: New sessions per second before originate answers -ERR DESTINATION_OUT_OF_ORDER.
    sessions_per_second: int = Field(default=30, ge=1)
    #: Channels up at once before originate is refused the same way (max-sessions).
    max_channels: int = Field(default=1000, ge=1)
    hostname: str = "kdial-sim"
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"
    #: The SIP port of the switch's own profile, as it appears in SIP variables.
    sip_port: int = Field(default=5080, ge=1, le=65535)
    #: Fixed Core-UUID; by default a new one per start, as a restarted FreeSWITCH has.
    core_uuid: str | None = None
    #: Sound files on the switch and how many seconds each plays; `playback` of any other file
    #: fails at once with FILE NOT FOUND, as on a real switch.
    sounds: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


def _default_failures() -> dict[str, float]:
    return {
        "noAnswer": 0.6,
        "busy": 0.25,
        "rejected": 0.05,
        "unreachable": 0.05,
        "lineFailure": 0.05,
    }


class CarrierSpec(Model):
    """A SIP trunk, addressed as `sofia/gateway/<name>/<number>`, or directly (a TrunkPool's
    sipUri) as `sofia/<profile>/<number>@<host>[:<port>]` with the host in `hosts`."""

    #: host:port of the carrier's proxy, shown in SIP variables (sip_req_uri, ...).
    proxy: str = "127.0.0.1:5060"
    #: Hosts (`host`: any port, or `host:port`; no port in the dial string is 5060, case does
    #: not matter) that `sofia/<profile>/<user>@<host>` dial strings reach here.
    hosts: tuple[str, ...] = ()
    answer_probability: Probability = 0.5
    #: Longest matching prefix of the dialled number (without `+`) wins over everything else.
    answer_probability_by_prefix: dict[str, Probability] = {}
    #: Per region named in the top-level `regions`; used when no prefix matches.
    answer_probability_by_region: dict[str, Probability] = {}
    #: Post-dial delay: from the INVITE to the first response (180/183 or a refusal).
    pdd_seconds: Distribution = Fixed(value=1.0)
    #: Ringing before the callee answers (or rejects, for `rejected`).
    ring_seconds: Distribution = LogNormal(dist="lognormal", median=8, sigma=0.5, min=1, max=120)
    #: Talk time of an answered human callee, until the callee hangs up.
    talk_seconds: Distribution = LogNormal(dist="lognormal", median=45, sigma=0.8, min=3, max=1800)
    #: The carrier gives up ringing after this long with 480 (None: it rings until we cancel).
    max_ring_seconds: float | None = Field(default=None, gt=0)
    #: The carrier sends 183 with early media instead of 180.
    early_media: bool = False
    #: Weights of how unanswered attempts end: busy, noAnswer, rejected, invalid, unreachable,
    #: riskBlocked, lineFailure, serverError, timeout, or a SIP status such as "502".
    failures: dict[str, float] = Field(default_factory=_default_failures)
    #: Calls up at once on this carrier before it answers 503.
    max_concurrent_calls: int | None = Field(default=None, ge=1)
    #: New calls per second before this carrier answers 503.
    max_calls_per_second: int | None = Field(default=None, ge=1)
    #: How it answers a gateway's REGISTER (and OPTIONS pings): `accept` (200 after the
    #: post-dial delay), `refuse` (403), or `unreachable` (no answer at all).
    registration: Literal["accept", "refuse", "unreachable"] = "accept"

    @field_validator("failures")
    @classmethod
    def _known_failures(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, weight in value.items():
            if not causes.is_failure_kind(kind):
                known = ", ".join(causes.FAILURE_KINDS)
                raise ValueError(f"unknown failure {kind!r}: use one of {known}, or a SIP status")
            if weight < 0:
                raise ValueError(f"failure weight of {kind!r} must be >= 0 (got {weight})")
        if value and sum(value.values()) <= 0:
            raise ValueError("failure weights must not all be zero")
        return value

    @field_validator("proxy")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"proxy must be host:port (got {value!r})")
        return value


class AmdSpec(Model):
    """How the switch reports answering-machine detection on answered calls."""

    enabled: bool = True
    #: Set on CHANNEL_ANSWER and later events as `variable_<name>: MACHINE|HUMAN`.
    variable: str = "amd_result"


class CalleeSpec(Model):
    """The people behind the numbers. A number's class is fixed by hash(seed, number)."""

    #: Share of numbers that do not exist (404 UNALLOCATED_NUMBER on every carrier).
    invalid: Probability = 0.0
    #: Share of phones switched off or out of coverage (480 NO_USER_RESPONSE).
    switched_off: Probability = 0.0
    #: Share answered by a machine (voicemail): answered, AMD says MACHINE.
    machine: Probability = 0.0
    machine_ring_seconds: Distribution = Uniform(dist="uniform", min=5, max=20)
    machine_talk_seconds: Distribution = Uniform(dist="uniform", min=15, max=40)
    amd: AmdSpec = AmdSpec()
    #: Presented numbers callees' phones flag as spam (号码标记), with the share of the usual
    #: answer rate calls showing them still get, e.g. {"+862012345678": 0.2}.
    marked_caller_ids: dict[str, Probability] = {}

    @model_validator(mode="after")
    def _shares(self) -> Self:
        total = self.invalid + self.switched_off + self.machine
        if total > 1:
            raise ValueError(f"invalid + switchedOff + machine must be <= 1 (got {total:g})")
        return self


class AgentPhone(Model):
    """One agent's phone where it differs from the floor's (`AgentsSpec`)."""

    #: How long it rings before the agent answers; the floor's when unset.
    ring_seconds: Distribution | None = None
    #: Share of calls the agent answers (0: a phone nobody picks up); the floor's when unset.
    answer_probability: Probability | None = None


class AgentsSpec(Model):
    """Agent phones, reachable as `user/<name>` (a user registered on the switch) or
    `sofia/<profile>/<name>@<host>` (an agent's SIP URI): `<prefix><n>` for n up to `count`,
    and every name in `phones`. An agent answers after `ringSeconds` with probability
    `answerProbability` and stays up until the call is hung up (the callee's talk time ends
    it, from the callee's side)."""

    count: int = Field(default=0, ge=0)
    prefix: str = "agent"
    ring_seconds: Distribution = Fixed(value=1.0)
    answer_probability: Probability = 1.0
    #: Phones by name, with what sets them apart (an agent slow to answer, one who never does).
    phones: dict[str, AgentPhone] = {}

    def phone(self, name: str) -> tuple[Distribution, float] | None:
        """(ring time, answer probability) of the agent phone `name`; None if there is none."""
        own = self.phones.get(name)
        if own is not None:
            ring = self.ring_seconds if own.ring_seconds is None else own.ring_seconds
            answers = own.answer_probability
            return ring, self.answer_probability if answers is None else answers
        suffix = name.removeprefix(self.prefix)
        if name.startswith(self.prefix) and suffix.isdigit() and 1 <= int(suffix) <= self.count:
            return self.ring_seconds, self.answer_probability
        return None


class _FaultBase(Model):
    #: Scenario seconds after the simulator starts.
    at: float = Field(ge=0)


class FailFault(_FaultBase):
    """From `at` until `until`, every new call on `carrier` fails with `cause`; with `network`,
    only calls to that callee network's numbers (the carrier lost its route to it)."""

    action: Literal["fail"]
    carrier: str
    #: A SIP status (e.g. 503) or a failure name (busy, lineFailure, ...).
    cause: int | str = 503
    until: float | None = None
    #: The callee network whose numbers fail, as phonenumbers names the carrier their range
    #: was allocated to (`China Unicom`); calls to other numbers go on as before.
    network: str | None = Field(default=None, min_length=1)

    @field_validator("cause")
    @classmethod
    def _known_cause(cls, value: int | str) -> int | str:
        if not causes.is_failure_kind(str(value)) or str(value) == "noAnswer":
            raise ValueError(
                f"cause must be a SIP status 400-699 or a failure name (got {value!r})"
            )
        return value

    @property
    def sip_status(self) -> int:
        status = causes.far_end_behaviour(str(self.cause)).sip_status
        assert status is not None
        return status


class AnswerProbabilityFault(_FaultBase):
    """From `at` (until `until`), `carrier` answers with probability `value`."""

    action: Literal["set-answer-probability"]
    carrier: str
    value: Probability
    until: float | None = None


class DropEslFault(_FaultBase):
    """Close every ESL connection at once; calls go on, clients must reconnect and reconcile."""

    action: Literal["drop-esl"]
    #: Send text/disconnect-notice first (a FreeSWITCH shutting down); default: just cut.
    graceful: bool = False


class RefuseEslFault(_FaultBase):
    """Stop accepting ESL connections until `until` (existing ones are dropped too)."""

    action: Literal["refuse-esl"]
    until: float


class ShutdownFault(_FaultBase):
    """The switch shuts down as FreeSWITCH does (`kdial_sim.shutdown`): calls up end
    SYSTEM_SHUTDOWN, originates are refused CHAN_NOT_IMPLEMENTED for 1.7 s, then the Event
    Socket closes. It listens again at `until` (restarted), or never without one."""

    action: Literal["shutdown"]
    until: float | None = None


class HupallFault(_FaultBase):
    """Hang up every channel, as `hupall <cause>` does."""

    action: Literal["hupall"]
    cause: str = "MANAGER_REQUEST"


Fault = Annotated[
    FailFault
    | AnswerProbabilityFault
    | DropEslFault
    | RefuseEslFault
    | ShutdownFault
    | HupallFault,
    Field(discriminator="action"),
]


class Scenario(Model):
    #: Seeds every random choice; the same seed and the same dialling give the same outcomes.
    seed: int = 0
    switch: SwitchSpec = SwitchSpec()
    #: Region name -> number prefixes (without `+`), for answerProbabilityByRegion.
    regions: dict[str, tuple[str, ...]] = {}
    carriers: dict[str, CarrierSpec] = {}
    callees: CalleeSpec = CalleeSpec()
    agents: AgentsSpec = AgentsSpec()
    faults: tuple[Fault, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Self:
        for name, carrier in self.carriers.items():
            for region in carrier.answer_probability_by_region:
                if region not in self.regions:
                    raise ValueError(
                        f"carriers.{name}.answerProbabilityByRegion: unknown region {region!r}"
                    )
        for index, fault in enumerate(self.faults):
            _check_fault(index, fault, self.carriers)
        return self


def _check_fault(index: int, fault: Any, carriers: dict[str, CarrierSpec]) -> None:
    carrier = getattr(fault, "carrier", None)
    if carrier is not None and carrier not in carriers:
        raise ValueError(f"faults.{index}.carrier: no carrier named {carrier!r}")
    until = getattr(fault, "until", None)
    if until is not None and until <= fault.at:
        raise ValueError(f"faults.{index}.until: must be after at ({until:g} <= {fault.at:g})")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with a message naming the file and the key."""


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the top level must be a mapping of keys")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(source, exc)) from None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))


def _describe(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s)"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        plain = isinstance(got, dict | list) or got is None or "(got " in message
        shown = "" if plain else f" (got {got!r})"
        lines.append(f"  {where}: {message}{shown}" if where else f"  {message}{shown}")
    return "\n".join(lines)


def _is_union_tag(part: int | str) -> bool:
    """Pydantic puts the chosen union member (e.g. `fail`, `lognormal`) into error locations."""
    tags = {"fixed", "uniform", "lognormal", "exponential"}
    tags |= {"fail", "set-answer-probability", "drop-esl", "refuse-esl", "hupall"}
    return isinstance(part, str) and part in tags


__all__ = [
    "AgentPhone",
    "AgentsSpec",
    "CalleeSpec",
    "CarrierSpec",
    "Fault",
    "Scenario",
    "ScenarioError",
    "SwitchSpec",
    "load_scenario",
    "parse_scenario",
]
