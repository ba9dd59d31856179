"""Specs the schema accepts, generated: every example's spec with fields replaced by values at
and past their edges, kept only when the CRD's schema and CEL rules accept them (what the API
server would store). The operator takes each without a crash and always writes a Ready
condition, True or False, with a reason."""

from __future__ import annotations

import copy
import itertools
from functools import partial
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kdial.api.kinds import KINDS
from tests.support.manifests import custom_resource_problems, example_documents
from tests.support.operator import Api, OperatorProcess, wait_for

KIND_PLURAL = {k.kind: k.plural for k in KINDS}
EXAMPLES = [doc for _, doc in example_documents() if doc["kind"] in KIND_PLURAL]
_names = itertools.count()
#: Changes drawn per example before giving up on it.
MAX_TRIES = 40

_edge_values = st.one_of(
    st.sampled_from([0, 1, -1, 2**31, 10**12, "", "x", "0", "+", "a" * 300, "中文", [], {}]),
    st.sampled_from([True, False, None, "00:00", "24:00", "UTC", "Mars/Olympus", "sip:x@y"]),
    st.text(max_size=12),
    st.integers(),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*path, index))
    return found


def _set(doc: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    if new is None and isinstance(doc, dict):
        del doc[path[-1]]
    else:
        doc[path[-1]] = new


@st.composite
def accepted_specs(draw: st.DrawFn) -> dict[str, Any]:
    """An example with one to three fields changed, the first such change the schema accepts
    (most are refused: a schema refuses what it can)."""
    example = draw(st.sampled_from(EXAMPLES))
    for _ in range(MAX_TRIES):
        doc: dict[str, Any] = copy.deepcopy(example)
        doc["metadata"] = {"name": f"fuzz-{next(_names)}"}
        for _ in range(draw(st.integers(1, 3))):
            paths = _paths(doc["spec"])
            if not paths:
                break  # an earlier change removed the spec's last field
            _set(doc["spec"], draw(st.sampled_from(paths)), draw(_edge_values))
        if doc["spec"] != example["spec"] and custom_resource_problems(doc) == []:
            return doc
    assume(False)
    raise AssertionError("unreachable")


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        # One operator serves every example: objects get fresh names, so none sees another.
        HealthCheck.function_scoped_fixture,
    ],
)
@given(docs=st.lists(accepted_specs(), min_size=6, max_size=6))
def test_any_spec_the_schema_accepts_gets_a_ready_condition(
    api: Api, operator: OperatorProcess, docs: list[dict[str, Any]]
) -> None:
    for doc in docs:
        api.create(KIND_PLURAL[doc["kind"]], doc["metadata"]["name"], doc["spec"], doc["kind"])

    for doc in docs:
        plural, name = KIND_PLURAL[doc["kind"]], doc["metadata"]["name"]
        ready = wait_for(
            f"a Ready condition on {doc['kind']} {name}: {doc['spec']}",
            partial(api.condition, plural, name, "Ready"),
            timeout=30,
            log=operator,
        )
        assert ready["status"] in {"True", "False"} and ready["reason"], ready
    assert operator.proc is not None and operator.proc.poll() is None
    assert "Traceback" not in operator.log.read_text("utf-8", "replace")
