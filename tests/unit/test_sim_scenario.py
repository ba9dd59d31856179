"""Scenario files: the examples validate, and mistakes are reported by key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kdial_sim.distributions import Fixed, LogNormal
from kdial_sim.scenario import FailFault, ScenarioError, load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_examples_validate(name: str) -> None:
    scenario = load_scenario(EXAMPLES / name)
    assert scenario.carriers


def test_documented_example_reads_as_written() -> None:
    scenario = load_scenario(EXAMPLES / "scenario.yaml")
    carrier = scenario.carriers["carrier-a"]
    assert carrier.answer_probability_by_prefix == {"86139": 0.30}
    assert isinstance(carrier.ring_seconds, LogNormal)
    assert isinstance(scenario.carriers["carrier-b"].pdd_seconds, Fixed)
    assert isinstance(scenario.faults[0], FailFault)
    assert scenario.faults[0].sip_status == 503


def problems(data: Any) -> str:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data, "s.yaml")
    return str(raised.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"carriers": {"a": {"answerProbability": 1.5}}},
            "carriers.a.answerProbability: Input should be less than or equal to 1 (got 1.5)",
        ),
        (
            {"carriers": {"a": {"ringSeconds": {"dist": "uniform", "min": 9, "max": 2}}}},
            "carriers.a.ringSeconds: uniform needs min <= max (got min 9.0, max 2.0)",
        ),
        ({"carriers": {"a": {"ringSeconds": {"dist": "gamma"}}}}, "Input tag 'gamma'"),
        ({"carriers": {"a": {"failures": {"bogus": 1}}}}, "unknown failure 'bogus'"),
        ({"carriers": {"a": {"proxy": "nohost"}}}, "proxy must be host:port (got 'nohost')"),
        ({"callees": {"invalid": 0.7, "machine": 0.5}}, "must be <= 1 (got 1.2)"),
        ({"faults": [{"at": 5, "action": "fail", "carrier": "x"}]}, "no carrier named 'x'"),
        ({"faults": [{"at": 5, "action": "explode"}]}, "faults.0: Input tag 'explode'"),
        (
            {
                "carriers": {"a": {}},
                "faults": [{"at": 5, "action": "fail", "carrier": "a", "until": 2}],
            },
            "faults.0.until: must be after at",
        ),
        (
            {"faults": [{"at": 5, "action": "shutdown", "until": 5}]},
            "faults.0.until: must be after at",
        ),
        ({"swich": {}}, "swich: Extra inputs are not permitted"),
        ([1, 2], "the top level must be a mapping"),
    ],
)
def test_mistakes_name_the_key(data: Any, message: str) -> None:
    text = problems(data)
    assert text.startswith("s.yaml:")
    assert message in text


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("carriers: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_empty_file_is_a_default_scenario(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    scenario = load_scenario(empty)
    assert scenario.switch.sessions_per_second == 30
    assert scenario.carriers == {}
