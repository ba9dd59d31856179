"""Builds the objects a campaign needs, as a user would apply them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.operator import Api


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct valid China Mobile numbers (138 0013 xxxx)."""
    return [f"13800{start + i:06d}" for i in range(count)]


def contact_list(api: Api, name: str, phones: list[str], purpose: str = "Dial") -> None:
    csv = "phone,name\n" + "".join(f"{p},person{i}\n" for i, p in enumerate(phones))
    api.config_map(f"{name}-source", {"contacts.csv": csv})
    api.create(
        "contactlists",
        name,
        {
            "source": {"configMap": {"name": f"{name}-source", "key": "contacts.csv"}},
            "defaultRegion": "CN",
            "purpose": purpose,
            "fields": [{"name": "name", "type": "String"}],
        },
        "ContactList",
    )


TRUNK_POOL: dict[str, Any] = {
    "trunks": [
        {
            "name": "carrier-a",
            "gateway": {"proxy": "sip.carrier-a.example"},
            "maxConcurrentCalls": 30,
            "maxCallsPerSecond": 5,
        },
        {
            "name": "carrier-b",
            "gateway": {"proxy": "sip.carrier-b.example"},
            "maxConcurrentCalls": 30,
            "maxCallsPerSecond": 5,
        },
    ]
}

CALLER_ID_POOL: dict[str, Any] = {
    "numbers": [{"number": "+862012345678"}, {"number": "+861012345678"}],
    "defaultNumber": "+862012345678",
}


def campaign_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "mode": "Agentless",
        "contactListRef": {"name": "leads"},
        "trunkPoolRefs": [{"name": "lines"}],
        "callerIdPoolRef": {"name": "ids"},
        "destination": {"extension": "9000"},
        "pacing": {"maxConcurrency": 10},
        "workers": {"min": 0, "max": 3},
    }
    return spec | overrides


def world(api: Api, phones: list[str]) -> None:
    """The referents of `campaign_spec()`: list `leads`, trunk pool `lines`, caller IDs `ids`."""
    contact_list(api, "leads", phones)
    api.create("trunkpools", "lines", TRUNK_POOL, "TrunkPool")
    api.create("calleridpools", "ids", CALLER_ID_POOL, "CallerIdPool")


def window_around(zone: str, now: datetime) -> dict[str, str]:
    """A calling window two hours wide around the present local time in `zone` (never across
    midnight), which is far outside it in a zone eight or more hours away."""
    local = now.astimezone(ZoneInfo(zone))
    start = max(local - timedelta(hours=1), local.replace(hour=0, minute=0))
    end = min(local + timedelta(hours=1), local.replace(hour=23, minute=59))
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
