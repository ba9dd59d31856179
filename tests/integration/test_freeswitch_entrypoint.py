"""The FreeSWITCH image's entrypoint (images/freeswitch/entrypoint.sh), run by /bin/sh: it checks
every value FreeSWITCH would paste into its XML before it execs the switch."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.paths import REPO

IMAGE = REPO / "images" / "freeswitch"

GOOD_ENV = {
    "ESL_PASSWORD": "k3yFromTheSecret",
    "ESL_PORT": "8021",
    "SIP_PORT": "5060",
    "RTP_PORT_START": "16384",
    "RTP_PORT_END": "32768",
    "SESSIONS_PER_SECOND": "30",
}


def run_entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(IMAGE / "entrypoint.sh")],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ESL_PASSWORD": ""}, "ESL_PASSWORD is not set"),
        ({"ESL_PASSWORD": 'x"/><param name="listen-ip" value="0.0.0.0'}, "ESL_PASSWORD may"),
        ({"SIP_PORT": "5060x"}, "SIP_PORT must be a port number"),
        ({"ESL_PORT": "70000"}, "ESL_PORT must be in 1-65535"),
        ({"RTP_PORT_END": "1000"}, "RTP_PORT_END (1000) is below RTP_PORT_START (16384)"),
        ({"SESSIONS_PER_SECOND": "0"}, "SESSIONS_PER_SECOND must be a whole number"),
    ],
)
def test_the_entrypoint_refuses_what_would_change_the_configuration(
    change: dict[str, str], message: str
) -> None:
    """A value FreeSWITCH would paste into its XML is checked before it starts: the container
    stops with a message naming the variable, and FreeSWITCH never runs."""
    result = run_entrypoint(GOOD_ENV | change)

    assert result.returncode == 64
    assert message in result.stderr
    assert "freeswitch" not in result.stderr.replace("kdial-freeswitch:", "")


def test_the_entrypoint_starts_freeswitch_with_good_values() -> None:
    """Past the checks it execs FreeSWITCH (absent here: the shell says so, nothing else)."""
    result = run_entrypoint(GOOD_ENV)

    assert result.returncode == 127
    assert "/usr/local/freeswitch/bin/freeswitch" in result.stderr
