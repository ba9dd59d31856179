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
from kdial_api.cluster import CACHE_SECONDS, TOKENS_SECRET, Cluster, api_client

EPILOG = f"""\
Agents authenticate with a bearer token: their value in the Secret `{TOKENS_SECRET}` of the
namespace (key = agent name); a token removed from it stops working within --cache-seconds.
Redis is KDIAL_REDIS_URL (default redis://127.0.0.1:6379/0); the API server is the pod's
service account's, else the kubeconfig's (KUBECONFIG).
The OpenAPI document is served at /openapi.json, liveness at /healthz, Prometheus metrics
of agents (per namespace and campaign) at /metrics.

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
        "--cache-seconds",
        type=float,
        default=CACHE_SECONDS,
        metavar="S",
        help="how long tokens, campaigns and lists read from the API server are kept "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--metrics-agent-label",
        action="store_true",
        help="label agent metrics with the agent's name (off: per campaign only)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


async def serve(host: str, port: int, args: argparse.Namespace) -> None:
    redis = aioredis.Redis.from_url(
        os.environ.get("KDIAL_REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )
    cluster = Cluster(api_client(), args.cache_seconds)
    app = build(cluster, redis, agent_label=args.metrics_agent_label)
    runner = web.AppRunner(app, shutdown_timeout=1)
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
        asyncio.run(serve(host, int(port), args))
    return 0
