"""`kdial worker`: one dialer beside one FreeSWITCH, for one campaign."""

# gevent must patch the standard library before anything opens a socket.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import redis  # noqa: E402

from kdial_worker import http  # noqa: E402
from kdial_worker.dialer import Dialer  # noqa: E402
from kdial_worker.settings import WorkerSettings  # noqa: E402

log = logging.getLogger("kdial.worker")

DESCRIPTION = """Runs a dialer worker for one campaign. It claims due contacts from Redis,
checks each (suppression lists, calling window in the callee's local time), takes cluster-wide
permits (trunk concurrency and calls per second, caller-ID caps), originates over the Event
Socket of the FreeSWITCH beside it, follows the call to its end, classifies the outcome and
records it, with the retry or closure that follows. SIGTERM drains: no new claims, calls in
flight finish or are hung up after --drain-seconds. Every option can also be set as a KDIAL_*
environment variable (e.g. KDIAL_ESL_PASSWORD); an option given here wins."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdial worker", description=DESCRIPTION)
    p.add_argument(
        "--campaign", required=True, metavar="NAMESPACE/NAME", help="the campaign to dial"
    )
    p.add_argument("--redis-url", help="Redis of the data plane (KDIAL_REDIS_URL)")
    p.add_argument("--esl-host", help="FreeSWITCH Event Socket host (KDIAL_ESL_HOST, 127.0.0.1)")
    p.add_argument("--esl-port", type=int, help="Event Socket port (KDIAL_ESL_PORT, 8021)")
    p.add_argument(
        "--esl-password",
        help="Event Socket password (KDIAL_ESL_PASSWORD; prefer the variable: arguments are "
        "visible to other processes)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        help="port of /metrics, /healthz, /readyz (KDIAL_METRICS_PORT, 9100)",
    )
    p.add_argument(
        "--drain-seconds",
        type=float,
        help="on SIGTERM, how long calls may run before they are hung up "
        "(KDIAL_DRAIN_SECONDS, 110)",
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        help="lease on each claimed contact, renewed while its call lasts "
        "(KDIAL_LEASE_SECONDS, 15)",
    )
    p.add_argument(
        "--reclaim-delay-seconds",
        type=float,
        help="a dead worker's contacts are due again after this (KDIAL_RECLAIM_DELAY_SECONDS, 300)",
    )
    p.add_argument(
        "--max-calls", type=int, help="most calls this worker carries (KDIAL_MAX_CALLS, 100)"
    )
    p.add_argument("--worker-id", help="names this worker in records and logs (KDIAL_WORKER_ID)")
    p.add_argument(
        "--gateways-dir",
        help="where the pools' compiled sofia gateways are mounted (KDIAL_GATEWAYS_DIR); the "
        "switch is told to reload them when the routing table names their generation",
    )
    return p


def settings_from(args: argparse.Namespace) -> WorkerSettings:
    given = {k: v for k, v in vars(args).items() if v is not None and k != "campaign"}
    return WorkerSettings(**given)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    namespace, _, name = args.campaign.partition("/")
    if not namespace or not name:
        print("kdial worker: --campaign must be NAMESPACE/NAME", file=sys.stderr)
        return 2
    settings = settings_from(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Hundreds of greenlets share the client: they queue for a connection rather than fail.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=64, timeout=10, decode_responses=True, socket_timeout=5
    )
    rdb = redis.Redis(connection_pool=pool)
    dialer = Dialer(settings, namespace, name, rdb)
    server = http.serve(settings.metrics_port, http.app(dialer.ready, lambda: dialer.healthy_at))
    finished = gevent.event.Event()

    def shutdown() -> None:
        log.info("SIGTERM: draining (up to %ss)", settings.drain_seconds)
        dialer.drain(settings.drain_seconds)
        finished.set()

    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(shutdown))
    gevent.signal_handler(signal.SIGINT, lambda: gevent.spawn(shutdown))
    log.info("worker %s dialing campaign %s/%s", settings.worker_id, namespace, name)
    dialer.start()
    finished.wait()
    server.stop()
    log.info("worker %s stopped", settings.worker_id)
    return 0
