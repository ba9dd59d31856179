"""The four kinds of the `kdial.io/v1alpha1` API: names, models and `kubectl get` columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kdial.api.calleridpool import CallerIdPoolSpec, CallerIdPoolStatus
from kdial.api.campaign import CampaignSpec, CampaignStatus
from kdial.api.contactlist import ContactListSpec, ContactListStatus
from kdial.api.meta import ApiModel
from kdial.api.trunkpool import TrunkPoolSpec, TrunkPoolStatus

GROUP = "kdial.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "kdial"


def _ready(jsonpath_type: str = "status") -> dict[str, Any]:
    return {
        "name": "Ready",
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="Ready")].{jsonpath_type}',
    }


_MESSAGE = {
    "name": "Message",
    "type": "string",
    "priority": 1,
    "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@dataclass(frozen=True)
class Kind:
    """One custom resource kind and everything its CRD says about it."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[ApiModel]
    status: type[ApiModel]
    description: str
    columns: tuple[dict[str, Any], ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


CAMPAIGN = Kind(
    kind="Campaign",
    plural="campaigns",
    short_names=("camp",),
    spec=CampaignSpec,
    status=CampaignStatus,
    description="An outbound calling campaign (专案): whom to call, over which lines, when, how.",
    columns=(
        _ready(),
        {"name": "Status", "type": "string", "jsonPath": ".status.summary"},
        {"name": "Progress", "type": "string", "jsonPath": ".status.progress.summary"},
        {"name": "Active", "type": "integer", "jsonPath": ".status.activeCalls"},
        {"name": "ASR", "type": "string", "jsonPath": ".status.rolling.asr"},
        {"name": "Abandon", "type": "string", "jsonPath": ".status.rolling.abandonRate"},
        {"name": "Workers", "type": "string", "jsonPath": ".status.workers.summary"},
        {"name": "Mode", "type": "string", "priority": 1, "jsonPath": ".spec.mode"},
        {
            "name": "Dialing",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Dialing")].message',
        },
        {"name": "State", "type": "string", "priority": 1, "jsonPath": ".spec.state"},
        _AGE,
        _MESSAGE,
    ),
)

TRUNK_POOL = Kind(
    kind="TrunkPool",
    plural="trunkpools",
    short_names=("tp",),
    spec=TrunkPoolSpec,
    status=TrunkPoolStatus,
    description="Carrier lines (线路) and the health policy that ejects and restores them.",
    columns=(
        _ready(),
        {"name": "Healthy", "type": "string", "jsonPath": ".status.healthy"},
        {"name": "Routing", "type": "integer", "jsonPath": ".status.routingGeneration"},
        _AGE,
        _MESSAGE,
    ),
)

CALLER_ID_POOL = Kind(
    kind="CallerIdPool",
    plural="calleridpools",
    short_names=("cidp",),
    spec=CallerIdPoolSpec,
    status=CallerIdPoolStatus,
    description="Presented caller IDs (外显号码), chosen local-first and quarantined when marked.",
    columns=(
        _ready(),
        {"name": "Total", "type": "integer", "jsonPath": ".status.total"},
        {"name": "Active", "type": "integer", "jsonPath": ".status.active"},
        {"name": "Quarantined", "type": "integer", "jsonPath": ".status.quarantined"},
        {"name": "Capped", "type": "integer", "jsonPath": ".status.capped"},
        _AGE,
        _MESSAGE,
    ),
)

CONTACT_LIST = Kind(
    kind="ContactList",
    plural="contactlists",
    short_names=("cl",),
    spec=ContactListSpec,
    status=ContactListStatus,
    description="A contact list (名单) to dial, or a do-not-call list to suppress.",
    columns=(
        _ready(),
        {"name": "Purpose", "type": "string", "jsonPath": ".spec.purpose"},
        {"name": "Imported", "type": "integer", "jsonPath": ".status.counts.imported"},
        {"name": "Rejected", "type": "integer", "jsonPath": ".status.counts.rejected"},
        {"name": "Duplicates", "type": "integer", "jsonPath": ".status.counts.duplicates"},
        {"name": "Last Import", "type": "date", "jsonPath": ".status.lastImportTime"},
        _AGE,
        _MESSAGE,
    ),
)

KINDS: tuple[Kind, ...] = (CAMPAIGN, TRUNK_POOL, CALLER_ID_POOL, CONTACT_LIST)
