"""Compiled sofia gateways as the operator delivers them: written by hand where a test needs
them (the mounted files of a worker and of its switch, the routing table's generation), and
read back from the Secret the operator applied."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import cast

import redis
from kubernetes import client
from urllib3 import HTTPResponse

from kdial.state import gateways as contract
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial.state.wire import Generation
from tests.support.operator import Api


def gateway_xml(gateways: dict[str, dict[str, str]]) -> str:
    """A sofia include file: gateway name -> params."""
    body = "".join(
        f'<gateway name="{name}">'
        + "".join(f'<param name="{k}" value="{v}"/>' for k, v in params.items())
        + "</gateway>"
        for name, params in gateways.items()
    )
    return f"<include>{body}</include>"


def mount(folder: Path, xml: str, pool: str = "lines") -> str:
    """Pool `pool`'s Secret written into `folder` as the worker pod's volume shows it (the
    files `<pool>.xml` and `<pool>.generation`); the generation."""
    folder.mkdir(parents=True, exist_ok=True)
    generation = contract.generation_of(xml)
    (folder / contract.xml_file(pool)).write_text(xml, encoding="utf-8")
    (folder / contract.generation_file(pool)).write_text(generation, encoding="utf-8")
    return generation


def set_generation(rdb: redis.Redis, pool: PoolKeys, generation: str) -> None:
    """The routing table as an operator that compiled gateways writes it."""
    stored = Generation.decode(rdb.get(pool.config) or "")
    table = RoutingTable.of(stored.content).model_copy(update={"gateways_generation": generation})
    rdb.set(pool.config, Generation(stored.version + 1, table.content()).encode())


def compiled(api: Api, pool: str) -> dict[str, str] | None:
    """The gateways Secret the operator applied for `pool`, its data decoded; None while there
    is none."""
    try:
        response = api.core.read_namespaced_secret(
            contract.secret_name(pool), api.namespace, _preload_content=False
        )
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    data = json.loads(cast(HTTPResponse, response).data).get("data") or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}
