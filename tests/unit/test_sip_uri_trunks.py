"""A TrunkPool trunk given by sipUri, from the spec to the dial string: the operator's routing
table carries the URI, the worker reads it back, picks the trunk and dials its host.

Before this path existed a sipUri trunk was valid in the CRD yet silently never dialled (the
worker skipped trunks without a gateway), so each step is checked on its own.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from kdial.api.trunkpool import TrunkPoolSpec, TrunkState
from kdial.dialstring import SipUri, originate_command
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial_operator.routing import routing_table
from kdial_worker.choice import pick_trunk
from kdial_worker.dialer import _via
from kdial_worker.runtime import Trunk, _trunk

POOL = PoolKeys("tp", "ns", "lines")
LIMITS = {"maxConcurrentCalls": 10, "maxCallsPerSecond": 5}


def stored_trunks(*trunks: dict[str, Any]) -> list[Trunk]:
    """The pool as a worker sees it: compiled by the operator, through JSON (as in Redis)."""
    spec = TrunkPoolSpec.model_validate({"trunks": list(trunks)})
    table = RoutingTable.decode(routing_table(spec, {"down": TrunkState.EJECTED}).encode())
    return [_trunk(POOL, row) for row in table.trunks]


def test_the_routing_table_carries_the_sip_uri_and_the_worker_reads_it() -> None:
    spec = TrunkPoolSpec.model_validate(
        {"trunks": [{"name": "direct", "sipUri": "sip.carrier.example:5060", **LIMITS}]}
    )
    (row,) = json.loads(routing_table(spec, {}).encode())["trunks"]
    assert row["sipUri"] == "sip.carrier.example:5060"
    assert "gateway" not in row

    direct, via_gateway = stored_trunks(
        {"name": "direct", "sipUri": "sip.carrier.example:5060", **LIMITS},
        {"name": "carrier-a", "gateway": {"proxy": "sip.carrier-a.example"}, **LIMITS},
    )
    assert (direct.sip_uri, direct.gateway) == ("sip.carrier.example:5060", None)
    # The gateway the operator writes into the switch has the trunk's name.
    assert (via_gateway.gateway, via_gateway.sip_uri) == ("carrier-a", None)
    assert direct.weight > 0


def test_a_pool_of_sip_uri_trunks_only_is_routable() -> None:
    trunks = stored_trunks(
        {"name": "direct", "sipUri": "10.0.0.5:5060", **LIMITS},
        {"name": "down", "sipUri": "10.0.0.6", **LIMITS},
    )
    rng = random.Random(3)
    picked = {getattr(pick_trunk(trunks, rng), "name", None) for _ in range(200)}
    # Never the ejected one; and never None, which is what a gateway-only check gave.
    assert picked == {"direct"}


def test_a_trunk_with_neither_gateway_nor_sip_uri_is_never_picked() -> None:
    (direct,) = stored_trunks({"name": "direct", "sipUri": "10.0.0.5", **LIMITS})
    assert pick_trunk([replace(direct, sip_uri=None)], random.Random(1)) is None


def test_the_worker_dials_a_sip_uri_trunk_at_its_host_and_a_gateway_trunk_by_name() -> None:
    direct, via_gateway = stored_trunks(
        {"name": "direct", "sipUri": "sip.carrier.example:5060", **LIMITS},
        {"name": "carrier-a", "gateway": {"proxy": "sip.carrier-a.example"}, **LIMITS},
    )
    assert _via(direct) == SipUri("sip.carrier.example:5060")
    assert originate_command(_via(direct), "+8613812345678") == (
        "originate sofia/external/8613812345678@sip.carrier.example:5060 &park()"
    )
    assert originate_command(_via(via_gateway), "+8613812345678") == (
        "originate sofia/gateway/carrier-a/8613812345678 &park()"
    )


@pytest.mark.parametrize("stored", ["sip.carrier.example;transport=tcp", "x,y", "", None])
def test_a_tampered_routing_row_never_reaches_the_switch(stored: str | None) -> None:
    """Redis is not the CRD: a row the schema would refuse is refused again at dial time."""
    (direct,) = stored_trunks({"name": "direct", "sipUri": "10.0.0.5", **LIMITS})
    with pytest.raises(ValueError, match="SIP URI"):
        _via(replace(direct, sip_uri=stored))
