"""`kdial sim`: run the FreeSWITCH Event Socket simulator from a scenario file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from kdial_sim.gateways import ConfigRefused, read_conf
from kdial_sim.runner import RunConfig, run
from kdial_sim.scenario import ScenarioError, load_scenario

DESCRIPTION = """\
A FreeSWITCH stand-in that speaks the real Event Socket protocol (auth, api, bgapi, event
plain/json, originate with channel variables, uuid_kill, hupall, sched_hangup, ...) and emits
CHANNEL_* and BACKGROUND_JOB events shaped like FreeSWITCH 1.11's. Carriers, callees, agents
and timed faults come from a YAML scenario; see examples/sim/scenario.yaml for every key.
"""

EPILOG = """\
examples:
  kdial sim --scenario examples/sim/scenario.yaml
  kdial sim --scenario examples/sim/fast.yaml --listen 127.0.0.1:0 --speed 20 --seed 7
  kdial sim --scenario my.yaml --check

On start the simulator prints one line, "kdial-sim listening on HOST:PORT (...)", on stdout.
It stops on SIGTERM or SIGINT, telling connected clients as FreeSWITCH does.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdial sim",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        required=True,
        metavar="FILE",
        help="YAML scenario: switch limits, carriers, callees, agents, faults",
    )
    parser.add_argument(
        "--conf",
        type=Path,
        metavar="DIR",
        help="FreeSWITCH configuration directory: the gateways are those of "
        "DIR/sip_profiles/external/**/*.xml, read on start, `reloadxml` and `sofia profile "
        "external rescan`; carriers are found by the gateways' proxies. Without it every "
        "carrier of the scenario is a gateway of its name that does not register",
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8021",
        metavar="HOST:PORT",
        help="where to accept ESL connections (default %(default)s; port 0 picks a free port)",
    )
    parser.add_argument(
        "--password",
        default="ClueCon",
        help="the ESL password clients must send with `auth` (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="override the scenario's seed; the same seed and dialling give the same outcomes",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="FACTOR",
        help="run scenario time FACTOR times faster: ring, talk, delays, originate_timeout, "
        "sched_hangup, faults and the per-second limits all scale (default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the scenario, print a summary and exit without listening",
    )
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        sys.stderr.write(f"kdial sim: {exc}\n")
        return 2
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    if args.conf is not None:
        try:
            read_conf(args.conf)
        except ConfigRefused as exc:
            sys.stderr.write(f"kdial sim: {exc}\n")
            return 2
    if args.check:
        sys.stdout.write(_summary(args.scenario, scenario.seed, len(scenario.carriers)))
        return 0
    host, port = _host_port(args.listen)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = RunConfig(scenario, host, port, args.password, args.speed, args.scenario, args.conf)
    try:
        asyncio.run(run(config))
    except ConfigRefused as exc:
        sys.stderr.write(f"kdial sim: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"kdial sim: cannot listen on {args.listen}: {exc.strerror}\n")
        return 1
    return 0


def _summary(source: str, seed: int, carriers: int) -> str:
    return f"{source}: valid (seed {seed}, {carriers} carrier(s))\n"


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SystemExit(f"kdial sim: --listen must be HOST:PORT (got {text!r})")
    return host.strip("[]"), int(port)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
    return value
