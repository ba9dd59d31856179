"""`kdial api`: serve the agent API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

import redis.asyncio as aioredis
from aiohttp import web

from kdial_api.app import build
from kdial_api.cluster import TOKENS_SECRET, Cluster, api_client

EPILOG = f"""\
Agents authenticate with a bearer token: their value in the Secret `{TOKENS_SECRET}` of the
namespace (key = agent name). Redis is KDIAL_REDIS_URL (default redis://127.0.0.1:6379/0);
the API server is the pod's service account's, else the kubeconfig's (KUBECONFIG).
The OpenAPI document is served at /openapi.json.

On start it prints one line, "kdial-api listening on HOST:PORT", on stdout.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdial api",
        description="Serve the agent API: agents log in to campaigns and follow their state.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="where to serve (default %(default)s; port 0 picks a free port)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


async def serve(host: str, port: int) -> None:
    redis = aioredis.Redis.from_url(
        os.environ.get("KDIAL_REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )
    runner = web.AppRunner(build(Cluster(api_client()), redis), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"kdial-api listening on {bound[0]}:{bound[1]}", flush=True)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
        await redis.aclose()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"kdial api: --listen wants HOST:PORT, not {args.listen!r}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port)))
    return 0
