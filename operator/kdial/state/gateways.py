"""A TrunkPool's sofia gateways: how the operator delivers them to worker pods, and what a
worker's switch reports of them.

The operator compiles a pool's gateway trunks into a sofia include file and puts it in the
Secret `kdial-gateways-<pool>` (never a ConfigMap: it holds the carriers' passwords; keys
`gateways.xml` and `generation`, the first 16 hex digits of its sha256). A worker pod mounts
the Secrets of every pool its campaign dials through in one projected volume, each pool's keys
as `<pool>.xml` and `<pool>.generation`: in the FreeSWITCH container where the `external`
profile includes every `*.xml` as its gateways, and in the dialer container at
`KDIAL_GATEWAYS_DIR`. Each pool's routing table names the generation workers should see
(`RoutingTable.gateways_generation`); a worker tells its switch to reload once its mount shows
every pool's, as the kubelet updates Secret volumes late.

Each worker publishes what its switch says of the pool's gateways (`GatewayReport`, in the
hash `PoolKeys.gateways`, one field per worker), and the operator shows it in the TrunkPool's
status.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field

from kdial.state.wire import WireValue

SECRET_PREFIX = "kdial-gateways-"  # noqa: S105 (a name, not a secret)
SECRET_LABELS = {
    "app.kubernetes.io/managed-by": "kdial-operator",
    "app.kubernetes.io/name": "kdial-gateways",
}
#: The Secret's keys: the include file, and its generation (`generation_of`).
XML_KEY = "gateways.xml"
GENERATION_KEY = "generation"
#: The worker pod's volume of that Secret, mounted read-only in both containers.
VOLUME = "gateways"
#: Where the FreeSWITCH container mounts the Secret: the `external` profile's gateway includes.
SWITCH_DIR = "/usr/local/freeswitch/conf/sip_profiles/external"
#: Where the dialer container mounts it, named by `DIR_ENV`.
DIALER_DIR = "/etc/kdial/gateways"
DIR_ENV = "KDIAL_GATEWAYS_DIR"

#: Registration states a gateway may be dialled in: registered, or not registering at all.
DIALABLE_STATES = frozenset({"REGED", "NOREG"})


def secret_name(pool: str) -> str:
    """The Secret holding the gateways of TrunkPool `pool`, in the pool's namespace."""
    return f"{SECRET_PREFIX}{pool}"


def xml_file(pool: str) -> str:
    """Pool `pool`'s include file in the mounted directory."""
    return f"{pool}.xml"


def generation_file(pool: str) -> str:
    """Pool `pool`'s generation in the mounted directory; not `*.xml`, so not configuration."""
    return f"{pool}.generation"


def generation_of(xml: str) -> str:
    """The include file's generation: the first 16 hex digits of the sha256 of its bytes."""
    return hashlib.sha256(xml.encode()).hexdigest()[:16]


class BadGateways(ValueError):
    """A gateways file that cannot be read as sofia gateways."""


def fingerprints(xml: str) -> dict[str, str]:
    """Gateway name -> the fingerprint of its definition (params and variables; 16 hex
    digits of a sha256), from a `<include><gateway>...` file. The routing table carries each
    gateway trunk's, so a worker whose switch has a gateway as the table wants it keeps
    dialling it while a change to another gateway of its pool waits for the mount."""
    try:
        # The operator's own output, from a Secret of the pod's namespace: not hostile input,
        # and expat refuses entity expansion bombs anyway.
        root = ElementTree.fromstring(xml)  # noqa: S314
    except ElementTree.ParseError as error:
        raise BadGateways(f"not XML: {error}") from None
    out: dict[str, str] = {}
    for gateway in root.iter("gateway"):
        name = gateway.get("name", "")
        if not name:
            raise BadGateways("a <gateway> without a name")
        if name in out:
            raise BadGateways(f"gateway {name!r} defined twice")
        gateway.tail = None
        canonical = ElementTree.canonicalize(ElementTree.tostring(gateway), strip_text=True)
        out[name] = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return out


class SwitchGateway(BaseModel):
    """One gateway as a switch reports it (`sofia xmlstatus gateway`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str
    """Registration state: NOREG (does not register), UNREGED, TRYING, REGISTER, REGED,
    UNREGISTER, FAILED, FAIL_WAIT, EXPIRED, DOWN or TIMEOUT."""
    status: str
    """UP or DOWN (pinging, or registration, says whether the far end answers)."""

    @property
    def dialable(self) -> bool:
        return self.state in DIALABLE_STATES and self.status == "UP"


class GatewayReport(WireValue):
    """What one worker's switch says of a pool's gateways, at a moment."""

    KIND: ClassVar[str] = "gateway report"
    #: 2: `applied`.
    SCHEMA_VERSION: ClassVar[int] = 2

    at_ms: int
    """When the switch was asked (ms since the epoch, the worker's clock)."""
    gateways: dict[str, SwitchGateway]
    """The pool's gateways the switch has, by name; a gateway it lacks is absent."""
    applied: dict[str, str] = Field(default_factory=dict)
    """The pool's gateways as the worker last gave them to its switch (`fingerprints`): a
    worker restarted beside the same switch reads them back, so it knows which of them
    changed while it was down."""
