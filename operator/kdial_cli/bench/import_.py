"""`kdial bench import`: a contact list import, end to end, against a real Redis.

A CSV of `--rows` rows is written first (8 fields; Chinese mobile numbers; 2% invalid numbers,
1% duplicates of earlier rows), served by a local aiohttp server, and imported through the code
path the operator uses: `contact_job.run` starts the import process, which streams the URL,
checks every row and writes the list to Redis in batches, then swaps it in. Figures:
`rows_per_second` (rows read / wall time of the import, process start-up included) and
`peak_rss_mb` (the import process's own peak resident memory, as it reports it from
getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from kdial.api.contactlist import ContactListSpec
from kdial_local import processes
from kdial_operator import contact_job
from kdial_operator.source_policy import SourcePolicy

# Prefixes of Chinese mobile ranges that are in service (China Mobile, Unicom, Telecom).
_PREFIXES = [
    *(f"13{d}" for d in range(10)),
    *("150", "151", "152", "153", "155", "156", "157", "158", "159"),
    *(f"18{d}" for d in range(10)),
    *("166", "176", "177", "198", "199"),
]
_INVALID = ["12345", "1380013", "138001380001234", "138-0013-800x", "+86 999", "0000000000000000"]
_CITIES = ["Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Chengdu", "Hangzhou", "Wuhan"]
_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "Ann Lee", "Bo Zhang", "Cy Wang"]

FIELDS = [
    {"name": "name", "required": True},
    {"name": "age", "type": "Integer"},
    {"name": "city"},
    {"name": "amount", "type": "Decimal"},
    {"name": "vip", "type": "Boolean"},
    {"name": "signup", "type": "Date"},
    {"name": "note"},
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdial bench import", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="data rows (default 1000000)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the generated list")
    p.add_argument("--json", action="store_true", help="print one JSON object, not a table")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kdial-bench-") as tmp:
        result = run(args.rows, args.seed, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


def write_csv(path: Path, rows: int, seed: int) -> dict[str, int]:
    """The bench's list; returns how many rows were made invalid and duplicated."""
    rng = random.Random(seed)
    made = {"invalid": 0, "duplicates": 0}
    recent: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,name,age,city,amount,vip,signup,note\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.02:
                phone = rng.choice(_INVALID)
                made["invalid"] += 1
            elif roll < 0.03 and recent:
                phone = rng.choice(recent)
                made["duplicates"] += 1
            else:
                phone = f"{rng.choice(_PREFIXES)}{rng.randrange(100_000_000):08d}"
                if len(recent) < 10_000:
                    recent.append(phone)
                else:
                    recent[i % 10_000] = phone
            out.write(
                f"{phone},{rng.choice(_NAMES)},{rng.randrange(18, 80)},{rng.choice(_CITIES)},"
                f"{rng.randrange(100_000) / 100:.2f},{rng.choice(('true', 'false'))},"
                f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d},"
                f'"note {i}, follow up"\n'
            )
    return made


class _FileServer:
    """Serves one file over HTTP from a thread, as a list host would."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, processes.free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        self.ready.wait(10)
        return f"http://127.0.0.1:{self.port}/list.csv"

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.FileResponse(self.path, headers={"Content-Type": "text/csv"})

        app = web.Application()
        app.router.add_get("/list.csv", handler)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())


def run(rows: int, seed: int, workdir: Path) -> dict[str, Any]:
    path = workdir / "list.csv"
    started = time.monotonic()
    made = write_csv(path, rows, seed)
    generated = time.monotonic() - started
    spec = ContactListSpec.model_validate(
        {
            "source": {"url": {"url": "http://127.0.0.1/list.csv"}},
            "defaultRegion": "CN",
            "fields": FIELDS,
        }
    )
    with processes.redis_server(workdir) as redis_url, _FileServer(path) as url:
        # The file server is on loopback: allowed here as a chart would allow an internal one.
        policy = SourcePolicy.of(allowed=["127.0.0.1/32"])
        job = contact_job.Job("bench", "import", spec, redis_url, url=url, policy=policy)
        started = time.monotonic()
        result = asyncio.run(contact_job.run(job))
        seconds = time.monotonic() - started
    if not result.ok:
        raise SystemExit(f"the import failed: {result.reason}: {result.message}")
    counts = result.counts
    return {
        "rows": counts["read"],
        "bytes": result.bytes_read,
        "seconds": round(seconds, 2),
        "rows_per_second": round(counts["read"] / seconds),
        "peak_rss_mb": result.peak_rss_mb,
        "imported": counts["imported"],
        "rejected": counts["rejected"],
        "duplicates": counts["duplicates"],
        "rejected_by_reason": result.rejected_by_reason,
        "generated_invalid": made["invalid"],
        "generated_duplicates": made["duplicates"],
        "generate_seconds": round(generated, 2),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"rows read          {result['rows']:>12,}   ({result['bytes'] / 1e6:.1f} MB)",
        f"imported           {result['imported']:>12,}",
        f"rejected           {result['rejected']:>12,}",
        f"duplicates         {result['duplicates']:>12,}",
        f"seconds            {result['seconds']:>12}",
        f"rows/s             {result['rows_per_second']:>12,}",
        f"peak RSS (MB)      {result['peak_rss_mb']:>12}   (the import process)",
    ]
    return "\n".join(lines)
