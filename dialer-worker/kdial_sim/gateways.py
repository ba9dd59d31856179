"""The `external` profile's sofia gateways: read from the configuration directory as FreeSWITCH
reads them, registered against the scenario's carriers, and reported as `sofia status gateway`
and `sofia xmlstatus gateway` word for word (mod_sofia.c: cmd_status, cmd_xml_status,
xml_gateway_status; parse_gateways in sofia.c; sofia_reg_check_gateway in sofia_reg.c).

Files: `<conf>/sip_profiles/external/**/*.xml`, each a `<include><gateway name=...>` file. The
kubelet's own bookkeeping in a Secret volume (`..data`, `..<timestamp>` folders) is skipped, as
the profile's `external/*.xml` include never sees it. Two files may carry the same gateway word
for word (two pods of one pool); two different definitions of one name are refused, where
FreeSWITCH would keep whichever it happened to read first.

`rescan` adds the gateways not loaded yet and leaves loaded ones as they are ("Ignoring
duplicate gateway"), as sofia does: a changed gateway takes `killgw` then `rescan`. A killed
gateway is gone at once here; a real switch unlinks it on its next registration pass, and
neither finds it by name in between.

Registration follows sofia_reg_check_gateway's states. A carrier found by the gateway's proxy
(its `proxy` or `hosts`) answers REGISTER as its `registration` says: `accept` (TRYING, then
REGED and UP after its post-dial delay), `refuse` (403: FAILED, then FAIL_WAIT for
retry-seconds, and again), or `unreachable` (TRYING until the transaction times out, 32 s,
then FAIL_WAIT). A proxy no carrier answers for is unreachable. A pinged gateway (`ping`) is
DOWN until its first OPTIONS is answered, and stays DOWN if nobody answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

log = logging.getLogger(__name__)

PROFILE = "external"
LINE = "=" * 97
XML_HEADER = '<?xml version="1.0" encoding="ISO-8859-1"?>'
#: SIP transaction timeout (64 x T1): how long an unanswered REGISTER stays TRYING.
REGISTER_TIMEOUT_SECONDS = 32.0


class ConfigRefused(ValueError):
    """A configuration the simulator cannot load as FreeSWITCH would."""


@dataclass(frozen=True)
class GatewayDef:
    """One `<gateway>` as written, and what sofia derives from it."""

    name: str
    params: tuple[tuple[str, str], ...]
    source: str

    def param(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.params if k == name), default)

    @property
    def registers(self) -> bool:
        return self.param("register", "true").lower() in ("true", "yes", "on", "1")

    @property
    def realm(self) -> str:
        return self.param("realm", self.name)

    @property
    def proxy(self) -> str:
        """host[:port] without `sip:`."""
        proxy = self.param("proxy", self.realm)
        return proxy[4:] if proxy.lower().startswith("sip:") else proxy

    @property
    def username(self) -> str:
        return self.param("username", "FreeSWITCH")

    @property
    def transport(self) -> str:
        return self.param("register-transport", "udp")

    @property
    def ping_seconds(self) -> int:
        text = self.param("ping", "0")
        return int(text) if text.isdigit() else 0

    @property
    def retry_seconds(self) -> int:
        text = self.param("retry-seconds", "30")
        return int(text) if text.isdigit() and int(text) > 0 else 30

    @property
    def expires(self) -> str:
        return self.param("expire-seconds", "3600")


def read_conf(conf: Path) -> dict[str, GatewayDef]:
    """Every gateway under `<conf>/sip_profiles/external`; raises ConfigRefused."""
    folder = conf / "sip_profiles" / PROFILE
    found: dict[str, GatewayDef] = {}
    files = sorted(
        p
        for p in folder.glob("**/*.xml")
        if not any(part.startswith("..") for part in p.relative_to(folder).parts)
    )
    for path in files:
        for gateway in _parse_file(path):
            known = found.get(gateway.name)
            if known is not None and known.params != gateway.params:
                raise ConfigRefused(
                    f"gateway {gateway.name!r} is defined differently in {known.source} and "
                    f"{gateway.source}; FreeSWITCH would keep one of them unpredictably"
                )
            found.setdefault(gateway.name, gateway)
    return found


def _parse_file(path: Path) -> list[GatewayDef]:
    try:
        root = ElementTree.fromstring(path.read_text(encoding="utf-8"))  # noqa: S314 (local conf)
    except (OSError, ElementTree.ParseError) as error:
        raise ConfigRefused(f"{path}: cannot read as XML ({error})") from None
    out = []
    for element in root.iter("gateway"):
        name = element.get("name", "")
        if not name:
            raise ConfigRefused(f"{path}: a <gateway> without a name")
        params = tuple((p.get("name", ""), p.get("value", "")) for p in element.iter("param"))
        gateway = GatewayDef(name, params, str(path))
        if gateway.registers and not gateway.param("password"):
            # sofia skips it with "ERROR: password param is REQUIRED!"; a test would then see a
            # gateway silently missing, which says less than this.
            raise ConfigRefused(f"{path}: gateway {name!r} registers without a password")
        out.append(gateway)
    return out


@dataclass(frozen=True)
class FarEnd:
    """How the carrier behind a gateway's proxy answers REGISTER and OPTIONS."""

    registration: str  # accept, refuse, unreachable
    delay: float
    #: The scenario's carrier answering calls, None when nobody answers at the proxy.
    carrier: str | None


#: The far end behind a gateway, as the scenario's carriers say.
FarEndLookup = Callable[[GatewayDef], FarEnd]


@dataclass
class Gateway:
    spec: GatewayDef
    far_end: FarEnd
    loaded_at: float
    calls_out: int = 0
    failed_calls_out: int = 0

    def state(self, now: float) -> tuple[str, float | None]:
        """Registration state at scenario time `now`, and when it next changes."""
        if not self.spec.registers:
            return "NOREG", None
        age = now - self.loaded_at
        mode, delay = self.far_end.registration, self.far_end.delay
        if mode == "accept":
            return ("TRYING", self.loaded_at + delay) if age < delay else ("REGED", None)
        answer = delay if mode == "refuse" else REGISTER_TIMEOUT_SECONDS
        cycle = answer + self.spec.retry_seconds
        into = age % cycle
        start = now - into
        if into < answer:
            return "TRYING", start + answer
        return "FAIL_WAIT", start + cycle

    def status(self, now: float) -> str:
        reachable = self.far_end.registration != "unreachable"
        if self.spec.registers:
            return "UP" if self.state(now)[0] == "REGED" else "DOWN"
        if self.spec.ping_seconds:
            return "UP" if reachable and now - self.loaded_at >= self.far_end.delay else "DOWN"
        return "UP"


@dataclass
class Gateways:
    """The profile's gateways, newest first as sofia lists them."""

    sip_ip: str
    sip_port: int
    loaded: list[Gateway] = field(default_factory=list)

    def find(self, name: str) -> Gateway | None:
        return next((g for g in self.loaded if g.spec.name == name), None)

    def rescan(self, defs: dict[str, GatewayDef], far_end: FarEndLookup, now: float) -> None:
        for name, spec in defs.items():
            known = self.find(name)
            if known is None:
                self.loaded.insert(0, Gateway(spec, far_end(spec), now))
            elif known.spec.params != spec.params:
                log.warning("Ignoring duplicate gateway '%s'", name)

    def kill(self, name: str) -> bool:
        known = self.find(name)
        if known is None:
            return False
        self.loaded.remove(known)
        return True

    # Replies ---------------------------------------------------------------------------------

    def status_summary(self, now: float) -> str:
        head = "%25s\t%32s\t%s\t%9s\t%s\t%s\n" % (  # noqa: UP031 (sofia's own printf)
            "Profile::Gateway-Name",
            "    Data    ",
            "State",
            "Ping Time",
            "IB Calls(F/T)",
            "OB Calls(F/T)",
        )
        rows = []
        for gw in self.loaded:
            state, until = gw.state(now)
            row = "%25s\t%32s\t%s\t%6.2f\t%u/%u\t%u/%u" % (  # noqa: UP031
                f"{PROFILE}::{gw.spec.name}",
                self._register_to(gw.spec),
                state,
                0.0,
                0,
                0,
                gw.failed_calls_out,
                gw.calls_out,
            )
            rows.append(row + _retry(state, until, now) + "\n")
        failed = sum(g.failed_calls_out for g in self.loaded)
        total = sum(g.calls_out for g in self.loaded)
        count = len(self.loaded)
        tail = (
            f"{count} gateway{'' if count == 1 else 's'}: Inbound(Failed/Total): 0/0,"
            f"Outbound(Failed/Total):{failed}/{total}\n"
        )
        return head + LINE + "\n" + "".join(rows) + LINE + "\n" + tail

    def status_one(self, name: str, now: float) -> str:
        gw = self.find(name)
        if gw is None:
            return "Invalid Gateway!\n"
        spec, (state, _) = gw.spec, gw.state(now)
        status = gw.status(now)
        lines = [
            ("Name    ", spec.name),
            ("Profile ", PROFILE),
            ("Scheme  ", "Digest"),
            ("Realm   ", spec.realm),
            ("Username", spec.username),
            ("Password", "yes" if spec.param("password") else "no"),
            ("From    ", self._register_from(spec)),
            ("Contact ", self._register_contact(spec)),
            ("Exten   ", self._extension(spec)),
            ("To      ", self._register_to(spec)),
            ("Proxy   ", f"sip:{spec.proxy}"),
            ("Context ", spec.param("context", "default")),
            ("Expires ", spec.expires),
            ("Freq    ", str(_freq(spec))),
            ("Ping    ", str(_ping_at(gw))),
            ("PingFreq", str(spec.ping_seconds)),
            ("PingTime", "0.00"),
            ("PingState", "0/0/1"),
            ("State   ", state),
            ("Status  ", status),
            ("Uptime  ", f"{int(now - gw.loaded_at) if status == 'UP' else 0}s"),
            ("CallsIN ", "0"),
            ("CallsOUT", str(gw.calls_out)),
            ("FailedCallsIN", "0"),
            ("FailedCallsOUT", str(gw.failed_calls_out)),
        ]
        body = "".join(f"{key}\t{value}\n" for key, value in lines)
        return f"{LINE}\n{body}{LINE}\n"

    def xml_summary(self, now: float) -> str:
        body = "".join(self._xml(gw, now) for gw in self.loaded)
        return f"{XML_HEADER}\n<gateways>\n{body}</gateways>\n"

    def xml_one(self, name: str, now: float) -> str:
        gw = self.find(name)
        if gw is None:
            return "Invalid Gateway!\n"
        return f"{XML_HEADER}\n{self._xml(gw, now)}"

    def _xml(self, gw: Gateway, now: float) -> str:
        spec, (state, until) = gw.spec, gw.state(now)
        status = gw.status(now)
        uptime = int((now - gw.loaded_at) * 1_000_000) if status == "UP" else 0
        fields = [
            ("name", spec.name),
            ("profile", PROFILE),
            ("scheme", "Digest"),
            ("realm", spec.realm),
            ("username", spec.username),
            ("password", "yes" if spec.param("password") else "no"),
            ("from", _amp(self._register_from(spec))),
            ("contact", _amp(self._register_contact(spec))),
            ("exten", _amp(self._extension(spec))),
            ("to", self._register_to(spec)),
            ("proxy", f"sip:{spec.proxy}"),
            ("context", spec.param("context", "default")),
            ("expires", spec.expires),
            ("freq", str(_freq(spec))),
            ("ping", str(_ping_at(gw))),
            ("pingfreq", str(spec.ping_seconds)),
            ("pingmin", "1"),
            ("pingcount", "0"),
            ("pingmax", "1"),
            ("pingtime", "0.00"),
            ("pinging", "0"),
            ("state", state),
            ("status", status),
            ("uptime-usec", str(uptime)),
            ("calls-in", "0"),
            ("calls-out", str(gw.calls_out)),
            ("failed-calls-in", "0"),
            ("failed-calls-out", str(gw.failed_calls_out)),
        ]
        if state in ("FAILED", "TRYING"):
            left = int(until - now) if until is not None and until > now else None
            fields.append(("retry", "NEVER" if left is None else f"{left}s"))
        body = "".join(f"    <{k}>{v}</{k}>\n" for k, v in fields)
        return f"  <gateway>\n{body}  </gateway>\n"

    def _register_to(self, spec: GatewayDef) -> str:
        return f"sip:{spec.username}@{spec.proxy}"

    def _register_from(self, spec: GatewayDef) -> str:
        user = spec.param("from-user", spec.username)
        domain = spec.param("from-domain", spec.realm)
        return f"<sip:{user}@{domain};transport={spec.transport}>"

    def _register_contact(self, spec: GatewayDef) -> str:
        return (
            f"<sip:{self._extension(spec)}@{self.sip_ip}:{self.sip_port};"
            f"transport={spec.transport}>"
        )

    def _extension(self, spec: GatewayDef) -> str:
        return spec.param("extension", spec.username)


def _freq(spec: GatewayDef) -> int:
    freq = int(spec.expires) if spec.expires.isdigit() else 0
    return (3600 if freq < 5 else freq) - 2


def _ping_at(gw: Gateway) -> int:
    """sofia keeps the epoch second of the next OPTIONS in `ping` (0: not pinged)."""
    return int(gw.loaded_at + gw.spec.ping_seconds) if gw.spec.ping_seconds else 0


def _retry(state: str, until: float | None, now: float) -> str:
    if state not in ("FAILED", "TRYING"):
        return ""
    if until is None or until <= now:
        return " (retry: NEVER)"
    return f" (retry: {int(until - now)}s)"


def _amp(text: str) -> str:
    """switch_amp_encode: the XML entities of &, <, >, " and '."""
    entities = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&apos;"))
    for raw, entity in entities:
        text = text.replace(raw, entity)
    return text
