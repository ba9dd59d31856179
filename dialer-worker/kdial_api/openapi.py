"""The agent API's OpenAPI 3.1 document, made from its route table and the pydantic models of
its bodies, so it describes exactly the routes the server has."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from kdial.agent_state import AgentState

__all__ = ["AgentView", "CampaignStatsView", "OfferView", "Route", "StatsView", "document"]

_VALIDATION: JsonSchemaMode = "validation"
_SERIALIZATION: JsonSchemaMode = "serialization"
#: Where `document` puts the JSON Schemas of bodies.
_SCHEMAS = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    body: type[BaseModel] | None
    #: What a 200 answers (JSON); the event stream's answer is described apart.
    answer: type[BaseModel] | None = None


class _View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class AgentView(_View):
    """An agent's state in a campaign, as the API answers it."""

    agent: str
    namespace: str
    campaign: str
    state: AgentState
    since_ms: int
    """When the agent entered `state` (ms since the epoch)."""
    endpoint: str | None = None
    """Where calls are bridged, from the login."""
    reason: str | None = None
    """Why the agent is NotReady."""


class OfferView(_View):
    """The call offered to an agent (the `offer` event), sent when they are reserved for it
    and again when their event stream starts while they are on it."""

    attempt: str
    """The call's attempt id; its disposition is kept with it."""
    contact: str | None = None
    """The contact's id in the list (says nothing of the number); absent if not found."""
    fields: dict[str, str | int | bool]
    """The contact fields the ContactList shows agents (`spec.display`), masked as it says;
    the phone number always, Partial by default."""


class StatsView(_View):
    """An agent's (or a campaign's agents' summed) statistics, from their state changes."""

    calls: int
    """Calls handled: talks that ended."""
    missed: int
    """Calls reserved for the agent that they did not answer."""
    idle_seconds: float
    """Ready, waiting for a call."""
    reserved_seconds: float
    talk_seconds: float
    wrap_up_seconds: float
    not_ready_seconds: float
    occupancy: float | None
    """(reserved + talk + wrap-up) / (idle + reserved + talk + wrap-up); null before any."""
    dispositions: dict[str, int]
    """Wrap-ups ended, by code."""


class CampaignStatsView(_View):
    """A campaign's agent statistics."""

    campaign: StatsView
    """Every agent's summed."""
    agents: dict[str, StatsView]
    """Each agent's, by name."""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `detail` says what to change.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}


_PARAMETERS = {
    "namespace": "The namespace's name.",
    "campaign": "The campaign's name.",
    "agent": "The agent's name.",
    "attempt": "The attempt id of the record previewed (the `attempt` of its offer).",
}


def _parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": _PARAMETERS[name],
            "schema": {"type": "string"},
        }
        for name in _PARAMETERS
        if f"{{{name}}}" in path
    ]


def _responses(route: Route) -> dict[str, Any]:
    if route.path.endswith("/events"):
        ok: dict[str, Any] = {
            "description": "Server-sent events: `state` (an AgentView of now), then a `change` "
            "per state change (JSON: agent, action, before, after, atMs, endpoint, reason, "
            "disposition, attempt), each with an `id` that `Last-Event-ID` resumes from; after "
            "a reserve's change (and after `state` while on a call) an `offer` (an OfferView); "
            "`: keep-alive` comments between.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    else:
        answer = route.answer or AgentView
        ok = {
            "description": answer.__doc__ or "",
            "content": {
                "application/json": {"schema": {"$ref": _SCHEMAS.format(model=answer.__name__)}}
            },
        }
    responses = {"200": ok, "401": _problem("No token, or not an agent's token in the namespace.")}
    responses["404"] = _problem("No such campaign in the namespace, or the agent never logged in.")
    if route.body is not None:
        responses["400"] = _problem("A malformed body or name.")
    if route.method == "POST":
        responses["409"] = _problem("The agent's state or the campaign's mode forbids it.")
    responses["503"] = _problem("The API server or Redis did not answer as they should.")
    return responses


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "security": [{"agentToken": []}],
        "parameters": _parameters(route.path),
        "responses": _responses(route),
    }
    if route.body is not None:
        schema = {"$ref": _SCHEMAS.format(model=route.body.__name__)}
        operation["requestBody"] = {
            "required": bool(route.body.model_fields),
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def document(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` and of `/openapi.json` itself."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, operation, summary, media in [
        ("/openapi.json", "openapi", "This document (OpenAPI 3.1)", "application/json"),
        ("/healthz", "healthz", "Liveness and readiness: 200 while serving", "text/plain"),
        ("/metrics", "metrics", "Agent metrics (Prometheus text format)", "text/plain"),
    ]:
        paths[path] = {
            "get": {
                "operationId": operation,
                "summary": summary,
                "security": [],
                "responses": {"200": {"description": summary, "content": {media: {"schema": {}}}}},
            }
        }
    bodies = {r.body for r in routes if r.body is not None}
    inputs = [(model, _VALIDATION) for model in sorted(bodies, key=lambda m: m.__name__)]
    views: list[type[BaseModel]] = [AgentView, OfferView]
    views += [r.answer for r in routes if r.answer is not None]
    outputs = [(model, _SERIALIZATION) for model in dict.fromkeys(views)]
    _, top = models_json_schema([*outputs, *inputs], ref_template=_SCHEMAS)
    schemas: dict[str, Any] = {"Problem": _PROBLEM} | top["$defs"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kdial agent API",
            "version": "v1",
            "description": "Agents of a namespace log in to its campaigns, go Ready or NotReady, "
            "follow their state and the calls offered to them, end wrap-up with a disposition "
            "and read their statistics. Every route acts for the agent the bearer token names, "
            "in the namespace of the path only.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "agentToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The agent's value in the namespace's Secret "
                    "`kdial-agent-tokens` (key = agent name).",
                }
            },
        },
    }
