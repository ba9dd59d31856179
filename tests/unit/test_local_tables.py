"""Server-side printing of the emulated API: the JSONPath subset and kubectl's ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kdial_local.tables import age, jsonpath, wants_table

OBJ = {
    "status": {
        "summary": "Dialing",
        "conditions": [
            {"type": "Dialing", "status": "False"},
            {"type": "Ready", "status": "True", "message": "ok"},
        ],
    }
}


def test_jsonpath_steps_filters_and_indexes() -> None:
    assert jsonpath(OBJ, ".status.summary") == ["Dialing"]
    assert jsonpath(OBJ, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath(OBJ, ".status.conditions[0].type") == ["Dialing"]
    assert jsonpath(OBJ, ".status.missing.deeper") == []
    assert jsonpath(OBJ, ".status.conditions[5]") == []


def test_jsonpath_outside_the_subset_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        jsonpath(OBJ, ".status.conditions[*].type")


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [
        (5, "5s"),
        (119, "119s"),
        (130, "2m10s"),
        (600, "10m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: int, printed: str) -> None:
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    since = (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert age(since, now) == printed


def test_only_kubectls_table_request_gets_a_table() -> None:
    assert wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not wants_table("application/json")
    assert not wants_table("application/json;as=Table;v=v1beta1;g=meta.k8s.io")
