"""`kdial desktops`: simulated agent desktops, logged in through the agent API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from kdial_sim.desktops import DesktopConfig, read_tokens, run_desktops

EPILOG = """\
examples:
  kdial desktops --api http://127.0.0.1:8080 --namespace sales --campaign promo \\
      --tokens agents.env --wrap-up-seconds 3

The tokens file holds agent=token lines, the same file
`kubectl create secret generic kdial-agent-tokens --from-env-file=agents.env` reads.
Once every agent is logged in it prints one line, "kdial-desktops: N agents logged in to
NAMESPACE/CAMPAIGN", on stdout. On SIGTERM or SIGINT each agent not on a call logs out.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdial desktops",
        description="Simulated agent desktops: each agent logs in Ready through the agent API, "
        "follows its event stream, ends every wrap-up with one of the campaign's "
        "disposition codes, and goes Ready again a moment after the worker sets it NotReady "
        "(a call that rang out).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api", required=True, metavar="URL", help="the agent API's base URL")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument(
        "--tokens", required=True, type=Path, metavar="FILE", help="agent=token lines"
    )
    parser.add_argument(
        "--wrap-up-seconds",
        type=float,
        default=5.0,
        help="seconds each wrap-up lasts (default %(default)s)",
    )
    parser.add_argument(
        "--call-back-minutes",
        type=float,
        default=60.0,
        help="how far ahead a call-back code asks to be called (default %(default)s)",
    )
    parser.add_argument(
        "--endpoint",
        default="{agent}",
        metavar="TEMPLATE",
        help="each agent's SIP endpoint, {agent} being its name (default %(default)s: the "
        "user of that name registered on the switch)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the codes drawn")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


async def _serve(config: DesktopConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_desktops(config, stop)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        tokens = read_tokens(args.tokens.read_text("utf-8"))
    except (OSError, ValueError) as error:
        sys.stderr.write(f"kdial desktops: {args.tokens}: {error}\n")
        return 2
    if not tokens:
        sys.stderr.write(f"kdial desktops: {args.tokens} names no agent\n")
        return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = DesktopConfig(
        api=args.api.rstrip("/"),
        namespace=args.namespace,
        campaign=args.campaign,
        tokens=tokens,
        wrap_up_seconds=args.wrap_up_seconds,
        call_back_minutes=args.call_back_minutes,
        endpoint=args.endpoint,
        seed=args.seed,
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(config))
    except RuntimeError as error:
        sys.stderr.write(f"kdial desktops: {error}\n")
        return 1
    return 0
