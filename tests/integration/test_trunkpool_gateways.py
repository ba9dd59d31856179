"""The operator compiles a TrunkPool's gateways into the Secret worker pods mount, through the
emulated API over HTTP: the Secret's shape, its generation in the routing table, credentials
read from a Secret and never shown, and what a missing credential does."""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import redis

from kdial.state import gateways as contract
from kdial.state.keys import PoolKeys
from tests.support.gateways import compiled
from tests.support.operator import Api, OperatorProcess, wait_for

PASSWORD = "pw-7Qx9&rotate-me"  # noqa: S105 (a test's own credential, looked for in the output)
ROTATED = "pw-8Zk2&rotated"
LIMITS = {"maxConcurrentCalls": 10, "maxCallsPerSecond": 5}
REGISTERING = {
    "name": "carrier-a",
    "gateway": {
        "proxy": "sip.carrier-a.example:5060",
        "register": True,
        "authSecretRef": {"name": "carrier-a-sip"},
    },
    **LIMITS,
}
BY_IP = {"name": "carrier-b", "gateway": {"proxy": "sip.carrier-b.example"}, **LIMITS}
DIRECT = {"name": "direct", "sipUri": "sip.direct.example", **LIMITS}


def gateway_params(xml: str) -> dict[str, dict[str, str]]:
    root = ET.fromstring(xml)  # noqa: S314 (what the operator wrote)
    return {
        g.attrib["name"]: {p.attrib["name"]: p.attrib["value"] for p in g.findall("param")}
        for g in root.findall("gateway")
    }


def table(rdb: redis.Redis, pool: str, namespace: str) -> dict[str, Any]:
    raw = rdb.get(PoolKeys("tp", namespace, pool).config)
    return json.loads(raw) if raw else {}


def ready(api: Api, pool: str) -> dict[str, Any]:
    return api.condition("trunkpools", pool, "Ready") or {}


def compiled_once(
    api: Api, wanted: Callable[[dict[str, str]], bool]
) -> Callable[[], dict[str, str] | None]:
    """A probe for `wait_for`: pool `lines`'s compiled gateways once `wanted` holds of them."""

    def probe() -> dict[str, str] | None:
        found = compiled(api, "lines")
        return found if found is not None and wanted(found) else None

    return probe


def test_the_pool_is_compiled_into_a_secret_the_routing_table_names(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    api.secret("carrier-a-sip", {"username": "gd0203", "password": PASSWORD})
    pool = api.create("trunkpools", "lines", {"trunks": [REGISTERING, BY_IP, DIRECT]}, "TrunkPool")

    data = wait_for("the gateways Secret", lambda: compiled(api, "lines"), log=operator)
    assert set(data) == {contract.XML_KEY, contract.GENERATION_KEY}
    xml = data[contract.XML_KEY]
    assert data[contract.GENERATION_KEY] == hashlib.sha256(xml.encode()).hexdigest()[:16]
    params = gateway_params(xml)
    assert list(params) == ["carrier-a", "carrier-b"]
    assert (params["carrier-a"]["username"], params["carrier-a"]["password"]) == (
        "gd0203",
        PASSWORD,
    )
    assert params["carrier-a"]["register"] == "true" and "password" not in params["carrier-b"]

    secret: Any = api.core.read_namespaced_secret(contract.secret_name("lines"), namespace)
    assert secret.type == "Opaque"
    assert secret.metadata.labels == contract.SECRET_LABELS
    (owner,) = secret.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "TrunkPool",
        "lines",
        pool["metadata"]["uid"],
        True,
    )
    first = data[contract.GENERATION_KEY]
    routing = wait_for(
        "the routing table with the gateways' generation",
        lambda: (
            (t := table(rdb, "lines", namespace))
            and t["content"].get("gatewaysGeneration") == first
            and t
        ),
        log=operator,
    )
    assert {t["name"]: t["weight"] > 0 for t in routing["content"]["trunks"]} == {
        "carrier-a": True,
        "carrier-b": True,
        "direct": True,
    }
    wait_for("Ready", lambda: ready(api, "lines").get("status") == "True", log=operator)

    # A trunk changes: the Secret and the routing table move to the new generation together.
    api.patch_spec(
        "trunkpools",
        "lines",
        {"trunks": [REGISTERING, {**BY_IP, "gateway": {"proxy": "sip.carrier-b2.example"}}]},
    )
    changed = wait_for(
        "a new generation",
        compiled_once(api, lambda d: d[contract.GENERATION_KEY] != first),
        log=operator,
    )
    assert gateway_params(changed[contract.XML_KEY])["carrier-b"]["proxy"] == (
        "sip.carrier-b2.example"
    )
    second = changed[contract.GENERATION_KEY]
    moved = wait_for(
        "the routing table following it",
        lambda: (
            (t := table(rdb, "lines", namespace))
            and t["content"].get("gatewaysGeneration") == second
            and t
        ),
        log=operator,
    )
    assert moved["version"] > routing["version"]

    # The password is rotated in its Secret: the switches get it without any change to the pool.
    api.core.patch_namespaced_secret(
        "carrier-a-sip", namespace, {"data": {"password": _b64(ROTATED)}}
    )
    rotated = wait_for(
        "the rotated password compiled",
        compiled_once(
            api, lambda d: gateway_params(d[contract.XML_KEY])["carrier-a"]["password"] == ROTATED
        ),
        log=operator,
    )
    assert rotated[contract.GENERATION_KEY] != second
    wait_for(
        "the routing table following the rotation",
        lambda: (
            table(rdb, "lines", namespace)["content"].get("gatewaysGeneration")
            == rotated[contract.GENERATION_KEY]
        ),
        log=operator,
    )

    shown = json.dumps(api.get("trunkpools", "lines")) + json.dumps(api.events("lines"))
    shown += operator.log.read_text("utf-8", "replace")
    shown += json.dumps(table(rdb, "lines", namespace))
    for secret_value in (PASSWORD, ROTATED, "gd0203"):
        assert secret_value not in shown
        assert _b64(secret_value) not in shown


def test_a_missing_credential_is_named_and_its_trunk_takes_no_calls(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    api.create("trunkpools", "lines", {"trunks": [REGISTERING, BY_IP]}, "TrunkPool")

    cond = wait_for(
        "Ready=False naming the Secret",
        lambda: ready(api, "lines").get("status") == "False" and ready(api, "lines"),
        log=operator,
    )
    assert cond["reason"] == "CredentialsMissing"
    assert cond["message"] == "trunk carrier-a: Secret carrier-a-sip is missing"
    data = wait_for("the gateways Secret", lambda: compiled(api, "lines"), log=operator)
    # The other carrier is still configured; the one without credentials is left out.
    assert list(gateway_params(data[contract.XML_KEY])) == ["carrier-b"]
    weights = {t["name"]: t["weight"] for t in table(rdb, "lines", namespace)["content"]["trunks"]}
    assert weights["carrier-a"] == 0 and weights["carrier-b"] > 0
    assert any(e["reason"] == "CredentialsMissing" for e in api.events("lines"))

    # The Secret comes without the password key: the message names the key.
    api.secret("carrier-a-sip", {"username": "gd0203", "pass": PASSWORD})
    wait_for(
        "the missing key named",
        lambda: (
            ready(api, "lines").get("message")
            == "trunk carrier-a: key password of Secret carrier-a-sip is missing "
            "(or not UTF-8 text)"
        ),
        log=operator,
    )
    # A value FreeSWITCH would expand is refused without being repeated.
    api.core.patch_namespaced_secret(
        "carrier-a-sip", namespace, {"data": {"password": _b64("$${esl_password}")}}
    )
    message = wait_for(
        "the unsafe value refused",
        lambda: "FreeSWITCH expands" in (m := ready(api, "lines").get("message", "")) and m,
        log=operator,
    )
    assert message.startswith("trunk carrier-a: key password of Secret carrier-a-sip holds")
    assert "esl_password" not in message

    api.core.patch_namespaced_secret(
        "carrier-a-sip", namespace, {"data": {"password": _b64(PASSWORD)}}
    )
    wait_for("Ready once fixed", lambda: ready(api, "lines").get("status") == "True", log=operator)
    data = wait_for(
        "carrier-a configured",
        compiled_once(api, lambda d: "carrier-a" in gateway_params(d[contract.XML_KEY])),
        log=operator,
    )
    wait_for(
        "carrier-a routed again",
        lambda: (
            {t["name"]: t["weight"] for t in table(rdb, "lines", namespace)["content"]["trunks"]}[
                "carrier-a"
            ]
            > 0
        ),
        log=operator,
    )


def test_a_pool_without_gateways_still_gets_its_secret(api: Api, operator: OperatorProcess) -> None:
    api.create("trunkpools", "direct", {"trunks": [DIRECT]}, "TrunkPool")
    data = wait_for("the gateways Secret", lambda: compiled(api, "direct"), log=operator)
    assert data[contract.XML_KEY] == "<include></include>\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
