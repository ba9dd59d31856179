"""The examples the demo runs, and how it adapts them to a run on a demo machine.

The quickstart is written for the demo and runs as it is. The predictive example is written for
a call centre: its calling windows are weekday business hours in China, its list has five rows,
its TrunkPool names carrier accounts in Secrets. For a run at any hour with enough contacts to
keep agents busy, the demo opens the windows, extends the list with generated contacts (from
the example's own rows, with made-up numbers), and creates the account Secrets with made-up
credentials, which the simulated carriers accept. Every change comes with a note the demo
prints; the files stay as they are.

Pure, but for `load`, which reads the files.
"""

from __future__ import annotations

import copy
import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kdial.api.contactlist import ContactListSpec
from kdial.api.trunkpool import TrunkPoolSpec
from kdial_operator import workload

Obj = dict[str, Any]

#: A schedule that is open whenever the demo runs: all day, every day.
ALWAYS = [{"start": "00:00", "end": "24:00"}]
#: Chinese mobile ranges (every number in them is valid) that generated contacts are drawn in.
MOBILE_RANGES = [*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190)]


@dataclass(frozen=True)
class Pace:
    """How long and how fast a run is."""

    speed: float
    """Simulator speed: scenario seconds per real second."""
    contacts: int | None
    """Rows of the example's list to dial (None: as written): its first rows, or more made
    from them."""
    seconds: float
    """Most seconds of dialing before the campaign is paused."""
    wrap_up_seconds: float = 0
    """How long each agent's wrap-up lasts (real seconds), in a campaign with agents."""
    agents: int | None = None
    """How many of the switch's agents log in, the first by name (None: every one)."""


@dataclass(frozen=True)
class Example:
    """An example the demo runs: its files (under examples/), the names of its objects, its
    switch, and how long and fast a run (`--fast`: a shorter one) is."""

    name: str
    files: tuple[str, ...]
    """Files or folders of manifests, applied in this order (a Campaign last)."""
    campaign: str
    trunk_pool: str
    contact_list: str
    scenario: str
    """The switch that plays its carriers (and agents' phones), in examples/sim/."""
    full: Pace
    fast: Pace

    @property
    def workers(self) -> str:
        return workload.deployment_name(self.campaign)


QUICKSTART = Example(
    "quickstart",
    ("quickstart",),
    campaign="quickstart",
    trunk_pool="quickstart-trunks",
    contact_list="quickstart-contacts",
    scenario="quickstart.yaml",
    full=Pace(speed=4, contacts=None, seconds=75),
    fast=Pace(speed=8, contacts=None, seconds=25),
)
PREDICTIVE = Example(
    "predictive-sales",
    (
        "trunkpool-regions.yaml",
        "calleridpool-local.yaml",
        "do-not-call.yaml",
        "predictive-sales.yaml",
    ),
    campaign="broadband-renewal",
    trunk_pool="carriers",
    contact_list="broadband-renewals",
    scenario="predictive-sales.yaml",
    # An agent takes a call every 8 s or so (a minute's talk at 10 times the speed, 2 s of
    # wrap-up): twelve make some 250 attempts in 75 s at the renewal switch's answer rate, and
    # are a team large enough for the pacer to dial ahead of them; six are enough for CI.
    full=Pace(speed=10, contacts=400, seconds=75, wrap_up_seconds=2),
    fast=Pace(speed=10, contacts=200, seconds=20, wrap_up_seconds=2, agents=6),
)


@dataclass
class Adapted:
    """The example's manifests as the demo applies them, and what it changed."""

    docs: list[Obj]
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    """Secrets to create first: name -> data."""
    notes: list[str] = field(default_factory=list)
    """What the demo changed, one line each, to say."""


def load(example: Example, folder: Path) -> list[Obj]:
    """The manifests of `example`'s files in `folder` (a folder's files in name order)."""
    docs: list[Obj] = []
    for name in example.files:
        path = folder / name
        for file in sorted(path.glob("*.yaml")) if path.is_dir() else [path]:
            docs += [d for d in yaml.safe_load_all(file.read_text("utf-8")) if d]
    return docs


def adapt(example: Example, docs: Sequence[Obj], contacts: int | None) -> Adapted:
    """`docs` ready for a demo run: the list sized to `contacts` rows (None: as written), the
    calling windows open, the carriers' account Secrets made up."""
    adapted = Adapted(copy.deepcopy(list(docs)))
    for doc in adapted.docs:
        if doc["kind"] == "Campaign":
            _open_windows(doc, adapted.notes)
        elif doc["kind"] == "TrunkPool":
            _accounts(doc, adapted)
    if contacts is not None:
        _size_list(example, adapted, contacts)
    return adapted


def _open_windows(campaign: Obj, notes: list[str]) -> None:
    schedule = campaign["spec"].get("schedule") or {}
    windows = schedule.get("windows")
    if not windows or windows == ALWAYS:
        return
    written = "; ".join(_window(w) for w in windows)
    campaign["spec"]["schedule"] = schedule | {"windows": ALWAYS}
    notes.append(
        f"calling windows opened for the demo, all day every day (the example calls {written}, "
        f"callee time)"
    )


def _window(window: Obj) -> str:
    days = ",".join(window.get("days") or [])
    return (f"{days} " if days else "") + f"{window['start']}-{window['end']}"


def _accounts(pool: Obj, adapted: Adapted) -> None:
    spec = TrunkPoolSpec.model_validate(pool["spec"])
    made = []
    for trunk in spec.trunks:
        auth = trunk.gateway.auth_secret_ref if trunk.gateway else None
        if auth is None or auth.name in adapted.secrets:
            continue
        adapted.secrets[auth.name] = {
            auth.username_key: f"demo-{trunk.name}",
            auth.password_key: "demo-password",
        }
        made.append(auth.name)
    if made:
        adapted.notes.append(
            f"created Secrets {', '.join(made)} with made-up carrier accounts (the simulated "
            f"carriers accept any)"
        )


def _size_list(example: Example, adapted: Adapted, rows: int) -> None:
    contact_list = next(
        d
        for d in adapted.docs
        if d["kind"] == "ContactList" and d["metadata"]["name"] == example.contact_list
    )
    spec = ContactListSpec.model_validate(contact_list["spec"])
    source = spec.source.config_map
    if source is None:
        raise ValueError(f"ContactList {example.contact_list} is not read from a ConfigMap")
    config_map = next(
        d for d in adapted.docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == source.name
    )
    text = config_map["data"][source.key]
    sized, generated = sized_csv(text, rows, spec.phone_field, spec.id_field)
    config_map["data"][source.key] = sized
    if generated:
        adapted.notes.append(
            f"list {example.contact_list} extended with {generated} generated contacts "
            f"(made-up numbers) to {rows}"
        )


def sized_csv(text: str, rows: int, phone: str, id_field: str | None) -> tuple[str, int]:
    """The CSV `text` with `rows` rows: its first rows, or all of them and more made from them
    in turn, each with a new made-up mobile number and, with `id_field`, a new id; and how
    many rows were made."""
    lines = text.splitlines(keepends=True)
    if rows <= len(lines) - 1:
        return "".join(lines[: rows + 1]), 0
    reader = csv.DictReader(io.StringIO(text))
    written = list(reader)
    taken = {r[phone] for r in written}
    rng = random.Random(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []), lineterminator="\n")
    made = rows - len(written)
    for n in range(made):
        number = _mobile(rng, taken)
        row = written[n % len(written)] | {phone: number}
        if id_field:
            row[id_field] = f"DEMO-{n + 1:05d}"
        writer.writerow(row)
    base = text if text.endswith("\n") else text + "\n"
    return base + out.getvalue(), made


def _mobile(rng: random.Random, taken: set[str]) -> str:
    """A Chinese mobile number not in `taken` (which it joins)."""
    while True:
        number = f"{rng.choice(MOBILE_RANGES)}{rng.randrange(10**8):08d}"
        if number not in taken:
            taken.add(number)
            return number
