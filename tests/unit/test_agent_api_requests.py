"""What the agent API accepts before it acts, and the OpenAPI document of its routes."""

from __future__ import annotations

import json
import re

import pytest
import redis.asyncio as aioredis
from kubernetes import client

from kdial_api import requests
from kdial_api.app import ROUTES, build
from kdial_api.cluster import Cluster
from kdial_api.openapi import document


@pytest.mark.parametrize(
    "endpoint",
    ["1001", "agent.ana", "ana_01+x", "sip:1001@pbx.example.com", "sip:ana@10.0.0.7:5060"],
)
def test_a_registered_user_or_a_sip_uri_is_an_endpoint(endpoint: str) -> None:
    assert (
        requests.parse(requests.Login, f'{{"endpoint": "{endpoint}"}}'.encode()).endpoint
        == endpoint
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "",
        "1001,user/1002",  # a second leg
        "1001|sofia/gateway/x/1",  # a failover leg
        "{origination_caller_id_number=1}1001",  # channel variables
        "[leg_timeout=1]1001",
        "user/1001",
        "1001 ",
        "sip:1001@pbx.example.com;transport=tcp",  # parameters
        "sip:1001@pbx.example.com?X-Header=1",  # headers
        "sips:1001@pbx.example.com",
        "sip:@pbx.example.com",
        "sip:1001@pbx.example.com:99999",
        "sip:1001@-pbx",
        "sip:1001@pbx@evil",
        "a" * 65,
        "${system rm -rf /}",
    ],
)
def test_nothing_a_dial_string_could_abuse_is_an_endpoint(endpoint: str) -> None:
    body = json.dumps({"endpoint": endpoint}).encode()
    with pytest.raises(requests.BadRequest, match="endpoint: endpoint must be a user registered"):
        requests.parse(requests.Login, body)


@pytest.mark.parametrize(
    ("model", "body", "says"),
    [
        (requests.Login, b"", "endpoint: Field required"),
        (requests.Login, b"not json", "Invalid JSON"),
        (requests.Login, b"[]", "Input should be an object"),
        (requests.Login, b'{"endpoint": "1", "ready": "soon"}', "ready: Input should be"),
        (requests.Login, b'{"endpoint": "1", "queue": "x"}', "queue: Extra inputs"),
        (requests.NotReady, b"{}", "reason: Field required"),
        (requests.NotReady, b'{"reason": ""}', "reason: String should have at least 1 character"),
        (requests.NotReady, b'{"reason": "a\\nb"}', "reason: String should match pattern"),
        (requests.NotReady, b'{"reason": "' + b"x" * 101 + b'"}', "at most 100 characters"),
        (requests.Empty, b'{"reason": "x"}', "reason: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_refused_saying_what_is_wrong(
    model: type[requests.Login | requests.NotReady | requests.Empty], body: bytes, says: str
) -> None:
    with pytest.raises(requests.BadRequest, match=says):
        requests.parse(model, body)


def test_a_body_is_read_by_its_wire_names() -> None:
    assert requests.parse(requests.Login, b'{"endpoint": "1001", "ready": true}').ready
    assert requests.parse(requests.Empty, b"") == requests.Empty()
    assert requests.parse(requests.NotReady, b'{"reason": "lunch break"}').reason == "lunch break"


@pytest.mark.parametrize("name", ["Promo", "a_b", "-a", "a" * 254, "../x", ""])
def test_a_path_name_that_is_no_kubernetes_name_is_refused(name: str) -> None:
    with pytest.raises(requests.BadRequest, match="is not a Kubernetes name"):
        requests.check_name("campaign", name)


def test_the_openapi_document_has_every_route_and_no_other() -> None:
    app = build(Cluster(client.ApiClient()), aioredis.Redis())
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    doc = document(ROUTES)
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    assert doc["openapi"] == "3.1.0"


def test_the_openapi_document_refers_only_to_schemas_it_has() -> None:
    doc = document(ROUTES)
    text = str(doc)
    schemas = doc["components"]["schemas"]
    for name in ("AgentView", "Login", "NotReady", "Empty", "Problem", "AgentState"):
        assert name in schemas, name
    for ref in re.findall(r"#/components/schemas/(\w+)", text):
        assert ref in schemas, ref
    login = doc["paths"]["/v1/namespaces/{namespace}/campaigns/{campaign}/login"]["post"]
    assert login["requestBody"]["required"] is True
    assert set(login["responses"]) == {"200", "400", "401", "404", "409", "503"}
    events = doc["paths"]["/v1/namespaces/{namespace}/campaigns/{campaign}/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
