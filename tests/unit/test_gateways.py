"""A TrunkPool's gateways compiled into the sofia include file (kdial.gateways): golden files
for every example pool (tests/data/gateways/<pool>.xml), each parsed back with an XML parser
and read as mod_sofia reads a gateway; credentials from a Secret; and hostile values, which
are refused or escaped so that nothing can leave its attribute."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from kdial.api.trunkpool import Gateway, Trunk, TrunkPoolSpec
from kdial.gateways import Credentials, UnsafeValue, compile_gateways
from kdial.state import gateways as contract
from kdial.state.gateways import generation_of
from kdial_operator.settings import OperatorSettings
from kdial_operator.workload import worker_deployment
from tests.support.manifests import example_documents
from tests.support.paths import REPO

GOLDEN = REPO / "tests" / "data" / "gateways"
POOLS = {
    doc["metadata"]["name"]: doc for _, doc in example_documents() if doc["kind"] == "TrunkPool"
}
#: The data of the Secrets the examples' authSecretRefs name, as a user would create them.
SECRETS = {
    "cm-gd-sip": {"username": "gd0203", "password": "s3cret&pa$$w0rd"},
    "wholesale-sip": {"user": "kdial-backup", "secret": "w!ld%card#9"},
}
LIMITS = {"maxConcurrentCalls": 10, "maxCallsPerSecond": 5}


def credentials(spec: TrunkPoolSpec, secrets: dict[str, dict[str, str]]) -> dict[str, Credentials]:
    """What the operator reads for each trunk's authSecretRef."""
    found = {}
    for trunk in spec.trunks:
        ref = trunk.gateway.auth_secret_ref if trunk.gateway else None
        if ref is not None:
            data = secrets[ref.name]
            found[trunk.name] = Credentials(data[ref.username_key], data[ref.password_key])
    return found


def spec_of(*trunks: dict[str, Any]) -> TrunkPoolSpec:
    return TrunkPoolSpec.model_validate({"trunks": list(trunks)})


def read(xml: str) -> dict[str, dict[str, Any]]:
    """Each gateway as mod_sofia reads it (sofia.c, parse_gateways): its `param`s, and its
    `variable`s with their direction, by gateway name."""
    root = ET.fromstring(xml)  # noqa: S314 (what kdial itself wrote)
    assert root.tag == "include"
    found: dict[str, dict[str, Any]] = {}
    for gateway in root:
        assert gateway.tag == "gateway" and set(gateway.attrib) == {"name"}
        params = [p.attrib for p in gateway.findall("param")]
        variables = [v.attrib for v in gateway.findall("variables/variable")]
        assert {tuple(sorted(p)) for p in params} <= {("name", "value")}
        assert {tuple(sorted(v)) for v in variables} <= {("direction", "name", "value")}
        assert [child.tag for child in gateway] == ["param"] * len(params) + ["variables"]
        found[gateway.attrib["name"]] = {
            "params": {p["name"]: p["value"] for p in params},
            "variables": {v["name"]: (v["value"], v["direction"]) for v in variables},
        }
        assert len(found[gateway.attrib["name"]]["params"]) == len(params), "a param twice"
    return found


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_every_example_pool_compiles_to_its_golden_file(pool: str) -> None:
    spec = TrunkPoolSpec.model_validate(POOLS[pool]["spec"])
    xml = compile_gateways(spec.trunks, credentials(spec, SECRETS))

    assert xml == (GOLDEN / f"{pool}.xml").read_text("utf-8")
    read_back = read(xml)
    assert list(read_back) == [t.name for t in spec.trunks if t.gateway is not None]
    for trunk in spec.trunks:
        if trunk.gateway is not None:
            assert_configures(read_back[trunk.name], trunk.gateway)


def assert_configures(read_back: dict[str, Any], gateway: Gateway) -> None:
    """The gateway mod_sofia builds from `read_back` is the one the spec asks for."""
    params, variables = read_back["params"], read_back["variables"]
    assert params["proxy"] == gateway.proxy
    assert params["realm"] == (gateway.realm or gateway.proxy.split(":")[0])
    # sofia registers a gateway that does not say "register": it is always said.
    assert params["register"] == ("true" if gateway.registers else "false")
    assert params["register-transport"] == gateway.transport.value
    pai = gateway.caller_id_in.value == "PAssertedIdentity"
    assert params["caller-id-in-from"] == ("false" if pai else "true")
    assert variables.pop("sip_cid_type") == ("pid" if pai else "none", "outbound")
    assert variables == {f"sip_h_{h.name}": (h.value, "outbound") for h in gateway.headers}
    ref = gateway.auth_secret_ref
    if ref is None:
        assert "username" not in params and "password" not in params
    else:
        secret = SECRETS[ref.name]
        assert (params["username"], params["password"]) == (
            secret[ref.username_key],
            secret[ref.password_key],
        )


def test_the_examples_show_each_kind_of_gateway() -> None:
    gateways_ = [
        t.gateway
        for doc in POOLS.values()
        for t in TrunkPoolSpec.model_validate(doc["spec"]).trunks
        if t.gateway is not None
    ]
    assert {g.transport.value for g in gateways_} >= {"udp", "tcp"}
    assert {g.caller_id_in.value for g in gateways_} == {"From", "PAssertedIdentity"}
    assert any(g.registers for g in gateways_)
    assert any(g.auth_secret_ref and not g.registers for g in gateways_)
    assert any(g.headers for g in gateways_)


def test_a_credential_is_escaped_and_reads_back_exactly() -> None:
    """`&`, `%`, `#`, `$` and `!` are ordinary in a password: escaped where XML needs it."""
    xml = (GOLDEN / "carriers.xml").read_text("utf-8")
    assert "s3cret&amp;pa$$w0rd" in xml and "s3cret&pa" not in xml
    backup = read(xml)["national-backup"]["params"]
    assert backup["password"] == SECRETS["wholesale-sip"]["secret"]


def test_a_pool_without_gateway_trunks_compiles_to_an_empty_include() -> None:
    spec = spec_of({"name": "direct", "sipUri": "sip.carrier.example", **LIMITS})
    xml = compile_gateways(spec.trunks, {})
    assert xml == "<include></include>\n"
    assert read(xml) == {}


def test_the_generation_is_the_sha256_of_the_bytes() -> None:
    xml = (GOLDEN / "carriers.xml").read_text("utf-8")
    assert generation_of(xml) == hashlib.sha256(xml.encode()).hexdigest()[:16]
    assert len(generation_of(xml)) == 16
    rotated = xml.replace("s3cret&amp;", "s4cret&amp;")
    assert generation_of(rotated) != generation_of(xml), "a password rotation moves the generation"


HOSTILE = [
    # Leaves the attribute to add a param of its own.
    'x"/><param name="register" value="true"/><param name="x',
    "x'/><param name='register' value='true",
    # Variables FreeSWITCH expands in its configuration: the Event Socket password, a command.
    "$${esl_password}",
    "${system(id)}",
    # Dial-string syntax.
    "x}sofia/gateway/evil/1",
    "a,origination_caller_id_number=666",
    "a|b",
    "x[y]",
    "^^:a:b",
    # A line break ends a preprocessor line; a NUL ends a C string.
    'a\n<X-PRE-PROCESS cmd="include" data="/etc/*"/>',
    "a\x00b",
    "",
]
SECRET = {"authSecretRef": {"name": "carrier-a-sip"}}


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["username", "password"])
def test_a_hostile_credential_is_refused_without_being_repeated(field: str, value: str) -> None:
    spec = spec_of({"name": "carrier-a", "gateway": {"proxy": "sip.a.example", **SECRET}, **LIMITS})
    account = {"username": "gd0203", "password": "good"} | {field: value}
    with pytest.raises(UnsafeValue) as refused:
        compile_gateways(spec.trunks, {"carrier-a": Credentials(**account)})
    message = str(refused.value)
    assert message.startswith(f"trunk carrier-a: the gateway's {field} ")
    assert value not in message or value == ""


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])  # an empty realm is no realm
def test_a_spec_value_that_skipped_validation_is_refused_all_the_same(value: str) -> None:
    """The schema refuses these (test_api_pools); a model built without validation, or an API
    server that skipped it, still cannot get them into the switch."""
    gateway = Gateway.model_construct(**Gateway(proxy="sip.a.example").__dict__ | {"realm": value})
    trunk = Trunk.model_construct(**spec_of(
        {"name": "carrier-a", "gateway": {"proxy": "sip.a.example"}, **LIMITS}
    ).trunks[0].__dict__ | {"gateway": gateway})  # fmt: skip
    with pytest.raises(UnsafeValue, match="trunk carrier-a: the gateway's realm "):
        compile_gateways([trunk], {})


def test_the_password_is_not_in_the_credentials_repr() -> None:
    account = Credentials("gd0203", "s3cret")
    assert "s3cret" not in repr(account) and "gd0203" in repr(account)


def test_the_names_the_worker_half_reads() -> None:
    """The contract with the worker pod (kdial_operator.workload, the worker's reloader)."""
    assert contract.secret_name("carriers") == "kdial-gateways-carriers"
    assert (contract.XML_KEY, contract.GENERATION_KEY) == ("gateways.xml", "generation")
    assert contract.SWITCH_DIR == "/usr/local/freeswitch/conf/sip_profiles/external"
    assert (contract.DIALER_DIR, contract.DIR_ENV) == ("/etc/kdial/gateways", "KDIAL_GATEWAYS_DIR")


def test_a_pool_the_campaign_names_twice_is_mounted_once() -> None:
    deployment = worker_deployment(
        "team-a", "promo", "uid", 1, OperatorSettings(), trunk_pools=["carriers", "carriers"]
    )
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "projected" in v]
    assert len(volume["projected"]["sources"]) == 1


def test_the_worker_pod_mounts_every_pools_gateways_read_only() -> None:
    deployment = worker_deployment(
        "team-a", "promo", "uid", 1, OperatorSettings(), trunk_pools=["carriers", "backup"]
    )
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == contract.VOLUME]
    assert volume == {
        "name": "gateways",
        "projected": {
            "sources": [
                {
                    "secret": {
                        "name": f"kdial-gateways-{pool}",
                        "items": [
                            {"key": "gateways.xml", "path": f"{pool}.xml"},
                            {"key": "generation", "path": f"{pool}.generation"},
                        ],
                    }
                }
                for pool in ("carriers", "backup")
            ]
        },
    }
    containers = {c["name"]: c for c in pod["containers"]}
    mounts = {
        name: [m for m in c["volumeMounts"] if m["name"] == contract.VOLUME]
        for name, c in containers.items()
    }
    assert mounts == {
        "freeswitch": [{"name": "gateways", "mountPath": contract.SWITCH_DIR, "readOnly": True}],
        "dialer": [{"name": "gateways", "mountPath": contract.DIALER_DIR, "readOnly": True}],
    }
    env = {e["name"]: e.get("value") for e in containers["dialer"]["env"]}
    assert env[contract.DIR_ENV] == contract.DIALER_DIR


def test_each_gateways_fingerprint_moves_with_its_own_definition_only() -> None:
    """A param or a variable of one gateway changed moves its fingerprint and no other's; a
    file written with other whitespace or order of gateways changes nothing."""
    xml = (GOLDEN / "carriers.xml").read_text("utf-8")
    before = contract.fingerprints(xml)
    assert set(before) == set(read(xml)) and len(set(before.values())) == len(before)
    first, *others = before
    block_start = xml.index(f'<gateway name="{first}"')
    block = xml[block_start : xml.index("</gateway>", block_start)]
    changes = {
        what: block.replace(f'name="{name}" value="', f'name="{name}" value="x')
        for what, name in [("a param", "register-transport"), ("a variable", "sip_cid_type")]
    }
    for what, changed in changes.items():
        assert changed != block, what
        after = contract.fingerprints(xml.replace(block, changed))
        assert after[first] != before[first], what
        assert {g: after[g] for g in others} == {g: before[g] for g in others}, what
    assert contract.fingerprints(xml.replace("\n    ", "\n")) == before
    with pytest.raises(contract.BadGateways, match="defined twice"):
        contract.fingerprints(xml.replace(f'name="{others[0]}"', f'name="{first}"'))
