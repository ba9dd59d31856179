"""The `kdial` command: one entry point, each subcommand in its own process world.

Subcommands are imported lazily, so `kdial worker` (gevent) never loads kopf and
`kdial operator` (asyncio) never loads gevent: the two event models never share a process.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

#: subcommand -> (module, function, one-line help); each function takes argv, returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "crds": (
        "kdial_cli.crds",
        "main",
        "write crds/*.yaml from the API models (--check: fail if stale)",
    ),
    "operator": ("kdial_operator.cli", "main", "run the operator (kopf run options pass through)"),
    "worker": ("kdial_worker.cli", "main", "run a dialer worker beside its FreeSWITCH"),
    "sim": ("kdial_sim.cli", "main", "run the FreeSWITCH Event Socket simulator"),
    "api": ("kdial_api.cli", "main", "serve the agent API (agents log in to campaigns)"),
    "desktops": (
        "kdial_sim.desktops_cli",
        "main",
        "simulated agent desktops, logged in through the agent API",
    ),
    "bench": ("kdial_cli.bench", "main", "benchmarks: throughput, import, health, pacing"),
    "demo": ("kdial_cli.demo.run", "main", "run kdial end to end on this machine"),
}


def usage() -> str:
    lines = ["usage: kdial <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, _, text) in SUBCOMMANDS.items()]
    lines += ["", "`kdial <command> --help` explains each command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"kdial: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, function, _ = SUBCOMMANDS[command]
    entry: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
    return entry(rest)


if __name__ == "__main__":
    sys.exit(main())
