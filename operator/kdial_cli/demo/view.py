"""The demo's live view: what `kubectl get camp,tp` shows, plus the trunks, pods and events.

Pure rendering from the objects as the API returns them. On a terminal the demo redraws the
whole frame; elsewhere (a log, CI) it prints one plain line per change instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kdial.privacy import mask_text
from kdial_cli.demo.timeline import Entry

Obj = Mapping[str, Any]


class PodRow(Protocol):
    """A pod as the local kubelet lists it."""

    @property
    def name(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def ready(self) -> bool: ...
    @property
    def age_seconds(self) -> float: ...


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell, three spaces apart, as kubectl prints them."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def condition(obj: Obj | None, type_: str) -> Obj:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), {})


def campaign_row(campaign: Obj) -> list[object]:
    status = campaign.get("status") or {}
    return [
        f"campaign.kdial.io/{campaign['metadata']['name']}",
        condition(campaign, "Ready").get("status", ""),
        status.get("summary", ""),
        (status.get("progress") or {}).get("summary", ""),
        status.get("activeCalls", ""),
        (status.get("rolling") or {}).get("asr", ""),
        (status.get("rolling") or {}).get("abandonRate", ""),
        (status.get("workers") or {}).get("summary", ""),
    ]


def trunkpool_row(pool: Obj) -> list[object]:
    status = pool.get("status") or {}
    return [
        f"trunkpool.kdial.io/{pool['metadata']['name']}",
        condition(pool, "Ready").get("status", ""),
        status.get("healthy", ""),
        status.get("routingGeneration", ""),
    ]


def trunk_rows(pool: Obj) -> list[list[object]]:
    return [
        [
            t.get("name", ""),
            t.get("state", ""),
            t.get("weight", ""),
            t.get("attempts", ""),
            t.get("asr", ""),
            t.get("callLossRate", ""),
            t.get("activeCalls", ""),
            mask_text(str(t.get("reason", ""))),
        ]
        for t in (pool.get("status") or {}).get("trunks") or []
    ]


def frame(
    elapsed: float,
    *,
    campaign: Obj | None,
    pool: Obj | None,
    pods: Sequence[PodRow] | None,
    entries: Sequence[Entry],
    hint: str,
) -> str:
    """The whole live view, for a terminal."""
    lines = [f"kdial demo   +{elapsed:.0f}s   {hint}", ""]
    if campaign:
        head = ["NAME", "READY", "STATUS", "PROGRESS", "ACTIVE", "ASR", "ABANDON", "WORKERS"]
        lines += [*table(head, [campaign_row(campaign)]), ""]
    if pool:
        lines += [*table(["NAME", "READY", "HEALTHY", "ROUTING"], [trunkpool_row(pool)]), ""]
        head = ["TRUNK", "STATE", "WEIGHT", "ATTEMPTS", "ASR", "CALL LOSS", "ACTIVE", "REASON"]
        lines += [*table(head, trunk_rows(pool)), ""]
    if pods is not None:
        rows = [
            [p.name, p.phase, "1/1" if p.ready else "0/1", f"{p.age_seconds:.0f}s"] for p in pods
        ]
        lines += [*table(["POD (local kubelet)", "STATUS", "READY", "AGE"], rows), ""]
    lines.append("EVENTS")
    lines += [entry_line(e) for e in entries]
    return "\n".join(lines)


def entry_line(entry: Entry) -> str:
    return f"  +{entry.at:>3.0f}s  {entry.source:<28} {entry.text}"


def summary(campaign: Obj | None, pool: Obj | None) -> str:
    """One plain line of the same, for output that is not a terminal."""
    parts = []
    if campaign:
        status = campaign.get("status") or {}
        progress = (status.get("progress") or {}).get("summary") or "-"
        asr = (status.get("rolling") or {}).get("asr") or "-"
        workers = (status.get("workers") or {}).get("summary") or "-"
        parts.append(
            f"{campaign['metadata']['name']}: {status.get('summary') or 'Pending'} {progress}, "
            f"{status.get('activeCalls', 0)} active, ASR {asr}, workers {workers}"
        )
    if pool:
        trunks = (pool.get("status") or {}).get("trunks") or []
        parts.append(", ".join(f"{t.get('name')} {t.get('state')}" for t in trunks) or "-")
    return " | ".join(parts)
