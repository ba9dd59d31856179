"""The local kubelet gives worker pods their Secret volumes as a kubelet does: the dialer finds
the files where its environment says, the shared simulator finds the switch's under its
configuration folder, and a changed Secret reaches both a little later, whole."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kdial.state import gateways as contract
from kdial_local.kubelet import Kubelet
from kdial_local.processes import simulator
from tests.support.esl_raw import EslClient
from tests.support.gateways import gateway_xml
from tests.support.kubelet import kubelet_running
from tests.support.operator import Api, wait_for

#: The dialer container's process: writes what it sees of its mount, again and again.
PROBE = """
import os, sys, time
folder = os.environ["KDIAL_GATEWAYS_DIR"]
while True:
    seen = open(os.path.join(folder, "generation")).read()
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write(folder + "\\n" + seen)
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.1)
"""
SWITCH_MOUNT = contract.SWITCH_DIR


def deployment(seen: Path) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "kdial-worker", "kdial.io/campaign": "promo"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kdial-worker-promo", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "dialer",
                            "args": [str(seen)],
                            "env": [{"name": contract.DIR_ENV, "value": contract.DIALER_DIR}],
                            "volumeMounts": [
                                {"name": "gateways", "mountPath": contract.DIALER_DIR}
                            ],
                        },
                        {
                            "name": "freeswitch",
                            "volumeMounts": [
                                {"name": "freeswitch-db", "mountPath": "/usr/local/freeswitch/db"},
                                {"name": "gateways", "mountPath": SWITCH_MOUNT},
                            ],
                        },
                    ],
                    "volumes": [
                        {"name": "freeswitch-db", "emptyDir": {}},
                        {"name": "gateways", "secret": {"secretName": "kdial-gateways-lines"}},
                    ],
                },
            },
        },
    }


@pytest.fixture
def kubelet(api: Api, tmp_path: Path) -> Iterator[Kubelet]:
    conf = tmp_path / "conf"
    conf.mkdir()
    with kubelet_running(
        api,
        tmp_path / "pods",
        {},
        switch_conf=conf,
        command=lambda args: [sys.executable, "-c", PROBE, *args],
    ) as kubelet:
        yield kubelet


def secret_data(xml: str) -> dict[str, str]:
    return {contract.XML_KEY: xml, contract.GENERATION_KEY: contract.generation_of(xml)}


def dialer_view(seen: Path) -> tuple[str, str] | None:
    if not seen.exists():
        return None
    folder, _, generation = seen.read_text().partition("\n")
    return folder, generation


def test_secret_volumes_reach_the_dialer_and_the_shared_switch(
    api: Api, kubelet: Kubelet, tmp_path: Path
) -> None:
    first = gateway_xml({"gw-a": {"proxy": "10.2.0.1:5060", "register": "false"}})
    api.secret("kdial-gateways-lines", secret_data(first))
    seen = tmp_path / "seen.txt"
    api.apps.create_namespaced_deployment(api.namespace, deployment(seen))  # type: ignore[arg-type]  # a dict body is fine
    folder, generation = wait_for("the dialer's view", lambda: dialer_view(seen))
    pod = kubelet.pods()[0].name
    assert folder == str(tmp_path / "pods" / "volumes" / pod / "gateways")
    assert generation == contract.generation_of(first)
    on_switch = tmp_path / "conf" / "sip_profiles" / "external" / pod
    assert (on_switch / contract.XML_KEY).read_text() == first

    second = gateway_xml({"gw-b": {"proxy": "10.2.0.2:5060", "register": "false"}})
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in secret_data(second).items()}
    api.core.patch_namespaced_secret("kdial-gateways-lines", api.namespace, {"data": encoded})
    wait_for(
        "the new generation in the dialer's folder",
        lambda: dialer_view(seen) == (folder, contract.generation_of(second)),
    )
    assert (on_switch / contract.XML_KEY).read_text() == second

    # The projected folder, kubelet links and all, is what the simulator reads as FreeSWITCH.
    scenario = {"carriers": {"b": {"proxy": "10.2.0.2:5060"}}}
    with simulator(scenario, conf=tmp_path / "conf") as sim, EslClient(*sim).connect() as esl:
        status = esl.api("sofia xmlstatus gateway")
        assert "<name>gw-b</name>" in status and "<name>gw-a</name>" not in status

    api.apps.delete_namespaced_deployment("kdial-worker-promo", api.namespace)
    wait_for("the pod gone", lambda: not kubelet.pods())
    assert not on_switch.exists()


def test_a_pod_whose_secret_is_missing_does_not_start(
    api: Api, kubelet: Kubelet, tmp_path: Path
) -> None:
    notes: list[str] = []
    kubelet.notify = notes.append
    api.apps.create_namespaced_deployment(api.namespace, deployment(tmp_path / "seen.txt"))  # type: ignore[arg-type]  # a dict body is fine
    refusal = wait_for("the refusal", lambda: [n for n in notes if "MountVolume" in n])
    assert "secret 'kdial-gateways-lines' not found" in refusal[0]
    assert not kubelet.pods()
