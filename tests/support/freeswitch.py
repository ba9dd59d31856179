"""What a real FreeSWITCH 1.11 did, kept in the repository as the tests' data (tests/data).

`CAPTURES` holds events as a client saw them; `FACTS` is freeswitch-facts.md, copied verbatim
(the outcome table the classifier is checked against); `measured()` is its "Measured again"
section as YAML. A missing file fails the test that needs it: these are facts, not options.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURES = DATA / "freeswitch-1.11-events"
FACTS = DATA / "freeswitch-facts.md"
MEASURED = DATA / "freeswitch-1.11-measured.yaml"


def data_file(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"FreeSWITCH test data {path} is missing from the repository")
    return path


def capture(name: str) -> Path:
    """A capture file by name, e.g. `carrier-a.CHANNEL_ANSWER.txt`."""
    return data_file(CAPTURES / name)


def facts_text() -> str:
    return data_file(FACTS).read_text(encoding="utf-8")


def measured() -> dict[str, Any]:
    loaded = yaml.safe_load(data_file(MEASURED).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), MEASURED
    return loaded


_HEADER = re.compile(r"([A-Za-z][A-Za-z0-9_-]*): ?(.*)")


def parse_capture(path: Path) -> dict[str, str]:
    """Headers of a captured event (URL-decoded, one per line; SDP values run on over lines)."""
    headers: dict[str, str] = {}
    last = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.fullmatch(line)
        if match and match.group(1) not in headers:
            last = match.group(1)
            headers[last] = match.group(2)
        elif last is not None:
            headers[last] += "\n" + line
    return headers
