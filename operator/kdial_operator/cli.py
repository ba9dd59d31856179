"""`kdial operator`: `kopf run -m kdial_operator.handlers` with kdial's defaults and options."""

from __future__ import annotations

import sys

HELP = """usage: kdial operator [kopf run options]

Runs the kdial operator: reconciles Campaign, TrunkPool, CallerIdPool and ContactList objects.

Defaults added unless you pass your own:
  --all-namespaces                   (or -n/--namespace NS to watch some namespaces only)
  --peering=kdial                    one operator acts at a time; a second one freezes
                                     (--standalone turns peering off, for development)
  --liveness=http://0.0.0.0:8080/healthz

Settings come from KDIAL_* environment variables (see kdial_operator/settings.py), e.g.
KDIAL_REDIS_URL, KDIAL_STATUS_INTERVAL_SECONDS, KDIAL_WORKER_IMAGE.
Any other `kopf run` option is passed on (e.g. --verbose, --log-format=json).
"""


def kopf_args(argv: list[str]) -> list[str]:
    """The `kopf run` arguments for `kdial operator argv`."""
    args = ["run", "-m", "kdial_operator.handlers"]
    flags = {a.split("=", 1)[0] for a in argv}
    if not flags & {"-n", "--namespace", "-A", "--all-namespaces"}:
        args.append("--all-namespaces")
    if not flags & {"--standalone", "--peering"}:
        args.append("--peering=kdial")
    if "--liveness" not in flags:
        args.append("--liveness=http://0.0.0.0:8080/healthz")
    return args + argv


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(HELP)
        return 0
    from kopf.cli import main as kopf_main

    try:
        kopf_main.main(args=kopf_args(argv), prog_name="kdial operator")
    except SystemExit as exit_:
        return int(exit_.code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
