"""The chart rendered as `helm template` renders it, by Helm's own Go engine (helm_python)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import helm_python as helm
from helm_python import _native

from tests.support.manifests import load_documents
from tests.support.paths import REPO

CHART = REPO / "charts" / "kdial"
RELEASE = "kdial"
NAMESPACE = "kdial-system"


@cache
def loaded_chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render_files(values: dict[str, Any], api_versions: tuple[str, ...] = ()) -> dict[str, str]:
    """`helm template kdial charts/kdial -n kdial-system [--api-versions ...]`: template path ->
    rendered text. The SDK's `Chart.render` has no `api_versions` argument; the native call
    underneath takes it, as `helm template --api-versions` does."""
    options: dict[str, Any] = {"name": RELEASE, "namespace": NAMESPACE, "is_install": True}
    if api_versions:
        options["api_versions"] = list(api_versions)
    rendered: dict[str, str] = json.loads(
        _native.call_string(
            "helm_render", loaded_chart()._raw(), json.dumps(values), json.dumps(options)
        )
    )
    return rendered


@dataclass(frozen=True)
class Rendered:
    files: dict[str, str]
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found

    def text(self, template: str) -> str:
        return self.files[f"kdial/templates/{template}"]


@cache
def _render(values: str, api_versions: tuple[str, ...]) -> Rendered:
    files = render_files(json.loads(values), api_versions)
    objects = [
        doc
        for path, text in files.items()
        if path.endswith((".yaml", ".yml"))
        for doc in load_documents(text)
    ]
    return Rendered(files, objects)


def render_values(values: dict[str, Any], api_versions: tuple[str, ...] = ()) -> Rendered:
    """The chart installed with `values`, rendered once per distinct set of values."""
    return _render(json.dumps(values, sort_keys=True), api_versions)


def env_of(container: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}
