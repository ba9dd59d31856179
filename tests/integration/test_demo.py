"""`kdial demo --fast` as CI runs it: every part a real process, a report, nothing left behind;
and `kdial demo --predictive --fast`, whose agents log in through the agent API.

Each run marks its environment with a fresh token; every process the demo starts (redis-server,
the operator and its import child, the simulator, the workers) inherits it, so a process still
carrying the token after the demo exited is one it left running.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

import yaml

from kdial.pacing import REGULATORY
from kdial_local.processes import kdial
from tests.support.paths import REPO

MARK = "KDIAL_DEMO_TEST_RUN"
#: A whole Chinese mobile number, with or without the country code.
MOBILE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
FAST_CONTACTS = 300
#: The first six agents by name of examples/sim/predictive-sales.yaml, who log in with --fast.
AGENTS = {"chen.jing", "huang.li", "li.na", "liu.yang", "sun.qiang", "wang.fang"}
#: Answered calls the pacer needs to judge an abandon rate by (the regulators' 3% cap).
JUDGED_FROM = REGULATORY.min_answers


def quickstart_numbers() -> list[str]:
    docs = yaml.safe_load_all((REPO / "examples" / "quickstart" / "contacts.yaml").read_text())
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    rows = config_map["data"]["contacts.csv"].splitlines()[1:]
    return [row.split(",")[0] for row in rows]


def left_running(token: str) -> list[int]:
    """Processes whose environment carries this run's token."""
    needle = f"{MARK}={token}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_gone(token: str, timeout: float = 10) -> list[int]:
    """The token's processes once they had `timeout` s to be reaped (zombies of a parent
    that has just exited vanish within moments)."""
    deadline = time.monotonic() + timeout
    while (pids := left_running(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return pids


def demo_env(token: str) -> dict[str, str]:
    return os.environ | {MARK: token, "PYTHONUNBUFFERED": "1"}


def said(what: str, out: str) -> str:
    """An assertion's message: what was missing first, so a failure's one-line summary names
    it, then the demo's output."""
    return f"{what}: not as expected in the demo's output\n{out}"


def run_demo(token: str, *args: str) -> str:
    """`kdial demo args` to its end; its output, once it exited 0."""
    result = subprocess.run(
        kdial("demo", *args),
        env=demo_env(token),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, f"{out[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    assert not MOBILE.search(out + result.stderr), "a callee's number reached the output"
    return out


def test_fast_demo_reports_every_trunk_and_contact_and_leaves_nothing_running() -> None:
    token = uuid.uuid4().hex
    out = run_demo(token, "--fast")
    assert "kdial demo: report for campaign kdial-demo/quickstart" in out

    attempts = dict(re.findall(r"^\s+(carrier-[abc])\s+(\d+)\s+\d+\s", out, re.MULTILINE))
    assert set(attempts) == {"carrier-a", "carrier-b", "carrier-c"}, said("every trunk", out)
    assert all(int(n) > 0 for n in attempts.values()), attempts

    books = re.search(
        r"(\d+) total: (\d+) closed, (\d+) pending \(due again later\), (\d+) in flight", out
    )
    assert books, said("the contact books", out)
    total, closed, pending, in_flight = map(int, books.groups())
    assert total == FAST_CONTACTS
    assert in_flight == 0, "the workers drained before the report"
    assert closed > 0
    assert closed + pending == total
    # carrier-c answers 503 for a while mid-run: line health takes it out of routing.
    assert re.search(r"^  carrier-c ejected at \+\d+s \(call loss", out, re.MULTILINE), said(
        "carrier-c ejected", out
    )
    assert re.search(r"^  0 → \d at \+\d+s", out, re.MULTILINE), "the workers were scaled up"

    leaked = [n for n in quickstart_numbers() if re.search(rf"(?<!\d){n}(?!\d)", out)]
    assert leaked == [], "numbers from the contact list reached the output unmasked"
    assert wait_gone(token) == []


def test_fast_predictive_demo_bridges_calls_to_agents_logged_in_through_the_api() -> None:
    token = uuid.uuid4().hex
    out = run_demo(token, "--predictive", "--fast")
    assert "kdial demo: report for campaign kdial-demo/broadband-renewal" in out
    # What the demo changed of the example to run it here, it says.
    assert "calling windows opened for the demo" in out
    assert re.search(r"list broadband-renewals extended with \d+ generated contacts", out), said(
        "the list extended", out
    )
    assert "kdial desktops: 6 agents logged in through kdial api" in out

    # Each agent's figures, from the agent API's statistics of their state changes.
    table = r"^  (\S+) +(\d+) +(\d+)s +(\d+)s +(\d+)s +([\d.]+)%$"
    rows = {name: int(calls) for name, calls, *_ in re.findall(table, out, re.MULTILINE)}
    assert set(rows) == AGENTS, said("a row per agent", out)
    overall = re.search(r"^  all 6 +(\d+) +(\d+)s +\d+s +\d+s +([\d.]+)%$", out, re.MULTILINE)
    assert overall, said("the agents' total", out)
    calls, talk = int(overall[1]), int(overall[2])
    assert calls == sum(rows.values()) and calls > 0 and talk > 0, said("calls handled", out)

    # The attempt records: every answered call was bridged to an agent or abandoned, and the
    # abandoned ones are held against the cap once there are enough to judge a rate by.
    books = re.search(
        r"(\d+) answered, (\d+) bridged to an agent, (\d+) abandoned \(.*\): (.*)$",
        out,
        re.MULTILINE,
    )
    assert books, said("the attempt books", out)
    answered, bridged, abandoned = map(int, books.groups()[:3])
    assert bridged >= calls, "every call an agent handled was bridged to them"
    assert bridged + abandoned == answered
    if answered >= JUDGED_FROM:
        assert books[4] == "within the cap of 3%" and 100 * abandoned <= 3 * answered, said(
            "abandoned within the cap", out
        )
    else:
        assert books[4].startswith("too few answered calls to hold against the cap"), said(
            "too few answered to judge", out
        )
    assert wait_gone(token) == []


def test_ctrl_c_stops_every_process_the_demo_started() -> None:
    token = uuid.uuid4().hex
    # A suite started in the background of a non-interactive shell (`make test &`) runs with
    # SIGINT ignored, which a child inherits, and Python keeps an ignored SIGINT ignored: the
    # demo gets SIGINT as at a terminal (a handler, unlike SIG_IGN, is not inherited).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            kdial("demo", "--fast"),
            env=demo_env(token),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert proc.stdout is not None
    seen = []
    try:
        # Interrupt once the workers run: every kind of process is up by then.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            line = proc.stdout.readline() if ready else ""
            seen.append(line)
            if "started pod" in line or proc.poll() is not None:
                break
        assert any("started pod" in line for line in seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted; every process it started is stopped" in rest
    assert wait_gone(token) == []
