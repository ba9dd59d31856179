"""The examples as `kdial demo` runs them: the predictive example adapted to a demo machine
(windows open, list extended, carrier accounts made up), each change said, the example's
meaning otherwise kept; and the switch that plays its carriers and agents."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kdial.api.contactlist import ContactListSpec
from kdial_cli.demo import agents, run
from kdial_cli.demo.examples import ALWAYS, PREDICTIVE, QUICKSTART, Adapted, adapt, load
from kdial_operator import contact_import
from kdial_sim.scenario import load_scenario
from tests.support.manifests import EXAMPLES, manifest_problems

ROWS = 300


def adapted_predictive(contacts: int | None = ROWS) -> Adapted:
    return adapt(PREDICTIVE, load(PREDICTIVE, EXAMPLES), contacts)


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def listed(docs: list[dict[str, Any]]) -> tuple[ContactListSpec, str]:
    spec = ContactListSpec.model_validate(
        find(docs, "ContactList", PREDICTIVE.contact_list)["spec"]
    )
    assert spec.source.config_map is not None
    config_map = find(docs, "ConfigMap", spec.source.config_map.name)
    return spec, config_map["data"][spec.source.config_map.key]


def test_the_predictive_list_is_extended_with_rows_that_all_import() -> None:
    adapted = adapted_predictive()
    spec, text = listed(adapted.docs)
    _, written = listed(load(PREDICTIVE, EXAMPLES))

    rows = contact_import.rows(text, spec)
    result = contact_import.import_rows(rows, spec, b"demo-key")
    assert len(rows) == len(result.contacts) == ROWS
    assert (dict(result.rejected), result.duplicates) == ({}, 0)
    assert text.startswith(written), "the example's own rows, as written, come first"
    made = ROWS - (len(written.splitlines()) - 1)
    assert f"list broadband-renewals extended with {made} generated contacts" in adapted.notes[-1]
    assert contact_import.rows(listed(adapted_predictive().docs)[1], spec) == rows, "the same"


def test_the_calling_windows_are_opened_and_the_note_says_what_they_were() -> None:
    docs = load(PREDICTIVE, EXAMPLES)
    before = copy.deepcopy(docs)
    adapted = adapt(PREDICTIVE, docs, ROWS)

    campaign = find(adapted.docs, "Campaign", PREDICTIVE.campaign)
    assert campaign["spec"]["schedule"]["windows"] == ALWAYS
    assert campaign["spec"]["schedule"]["fallbackTimeZone"] == "Asia/Shanghai"
    (note,) = [n for n in adapted.notes if n.startswith("calling windows opened")]
    weekdays = "Mon,Tue,Wed,Thu,Fri"
    assert f"{weekdays} 09:00-12:00; {weekdays} 13:30-18:00, callee time" in note
    assert docs == before, "the example as loaded is left as it is"
    written = find(docs, "Campaign", PREDICTIVE.campaign)
    assert campaign["spec"] | {"schedule": None} == written["spec"] | {"schedule": None}, (
        "nothing else of the campaign changes: pacing, cap, abandon message, dispositions"
    )


def test_every_adapted_manifest_is_one_the_api_server_accepts() -> None:
    for doc in adapted_predictive().docs:
        assert manifest_problems(doc) == [], doc["metadata"]["name"]


def test_the_carrier_accounts_the_pool_names_are_made_up_under_its_keys() -> None:
    adapted = adapted_predictive()

    assert {name: sorted(data) for name, data in adapted.secrets.items()} == {
        "cm-gd-sip": ["password", "username"],
        "wholesale-sip": ["secret", "user"],
    }
    assert any(n.startswith("created Secrets cm-gd-sip, wholesale-sip") for n in adapted.notes)


def test_the_quickstart_runs_as_written_or_cut_short() -> None:
    docs = load(QUICKSTART, EXAMPLES)

    assert adapt(QUICKSTART, docs, None) == Adapted(docs)
    cut = adapt(QUICKSTART, docs, 20)
    config_map = find(cut.docs, "ConfigMap", QUICKSTART.contact_list)
    assert len(config_map["data"]["contacts.csv"].splitlines()) == 1 + 20
    assert cut.notes == []


def test_the_predictive_switch_reaches_every_trunk_and_has_the_message_and_the_agents() -> None:
    path = EXAMPLES / "sim" / PREDICTIVE.scenario
    scenario = load_scenario(path)
    docs = load(PREDICTIVE, EXAMPLES)
    pool = find(docs, "TrunkPool", PREDICTIVE.trunk_pool)
    # A gateway's proxy, or a sipUri's host, without a port is SIP's 5060.
    proxies = {c.proxy for c in scenario.carriers.values()}
    for trunk in pool["spec"]["trunks"]:
        host, _, port = (trunk.get("gateway", {}).get("proxy") or trunk["sipUri"]).partition(":")
        assert f"{host}:{port or 5060}" in proxies, trunk["name"]
    pacing = find(docs, "Campaign", PREDICTIVE.campaign)["spec"]["pacing"]
    assert pacing["abandonMessage"] in scenario.switch.sounds
    names = agents.names(yaml.safe_load(path.read_text("utf-8")))
    assert len(names) == 12
    assert PREDICTIVE.fast.agents == 6 and PREDICTIVE.full.agents is None
    assert all(scenario.agents.phone(name) for name in names), "each agent's phone rings"


def test_the_predictive_demo_refuses_a_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """Its agents' phones are the simulated switch's: a cluster's switch has none."""
    assert run.main(["--predictive", "--kubeconfig", "/nowhere/kubeconfig"]) == 2
    assert "--predictive runs on this machine only" in capsys.readouterr().err
