"""`kdial bench <what>`: measurements that print a table and, with --json, a JSON object."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "throughput": (
        "kdial_cli.bench.throughput",
        "originates/s, bgapi latency, lost events, claims/s",
    ),
    "import": ("kdial_cli.bench.import_", "contact list import: rows/s and peak RSS over HTTP"),
    "health": ("kdial_cli.bench.health", "trunk ejection and restore, false ejections, quarantine"),
    "pacing": (
        "kdial_cli.bench.pacing",
        "predictive pacing against baselines and the clairvoyant bound: talk-min/agent-h, abandons",
    ),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in BENCHES:
        print("usage: kdial bench <what> [options]\n\nbenchmarks:")
        for name, (_, text) in BENCHES.items():
            print(f"  {name:<12} {text}")
        print("\n`kdial bench <what> --help` explains each one's options.")
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(BENCHES[argv[0]][0])
    code: int = module.main(argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
