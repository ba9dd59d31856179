"""Compiled sofia gateways as the operator delivers them, written by hand where a test needs
them: the mounted files of a worker and of its switch, and the routing table's generation."""

from __future__ import annotations

from pathlib import Path

import redis

from kdial.state import gateways as contract
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial.state.wire import Generation


def gateway_xml(gateways: dict[str, dict[str, str]]) -> str:
    """A sofia include file: gateway name -> params."""
    body = "".join(
        f'<gateway name="{name}">'
        + "".join(f'<param name="{k}" value="{v}"/>' for k, v in params.items())
        + "</gateway>"
        for name, params in gateways.items()
    )
    return f"<include>{body}</include>"


def mount(folder: Path, xml: str) -> str:
    """The Secret's two keys written into `folder`, as its volume shows them; the generation."""
    folder.mkdir(parents=True, exist_ok=True)
    generation = contract.generation_of(xml)
    (folder / contract.XML_KEY).write_text(xml, encoding="utf-8")
    (folder / contract.GENERATION_KEY).write_text(generation, encoding="utf-8")
    return generation


def set_generation(rdb: redis.Redis, pool: PoolKeys, generation: str) -> None:
    """The routing table as an operator that compiled gateways writes it."""
    stored = Generation.decode(rdb.get(pool.config) or "")
    table = RoutingTable.of(stored.content).model_copy(update={"gateways_generation": generation})
    rdb.set(pool.config, Generation(stored.version + 1, table.content()).encode())
