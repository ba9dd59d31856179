"""`kdial demo`: kdial end to end on this machine, every part a real process on loopback.

An emulated Kubernetes API server (kdial_local.apiserver, in this process), a redis-server,
`kdial operator`, `kdial sim` playing the switch and its carriers, and `kdial worker` processes
that a local kubelet (kdial_local.kubelet) runs from the worker Deployment the operator writes.
The demo applies examples/quickstart/, shows what `kubectl get camp,tp` would while the campaign
dials, pauses it when its time is up (the workers drain), and prints a report. Every process it
started is stopped on the way out: at the end, on an error, on Ctrl-C, SIGTERM or SIGHUP.

With --predictive it runs examples/predictive-sales.yaml instead, adapted to run at any hour
(kdial_cli.demo.examples says how, and so does the demo as it runs): simulated agents log in
through `kdial api`, take the calls the campaign's predictive pacer dials for them, and the report
adds their figures and the abandoned calls against the campaign's cap.

With --kubeconfig it runs the quickstart against that cluster instead: it applies the same
manifests there, and the cluster's operator and workers do the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, cast

import redis
import yaml

from kdial.api.campaign import CampaignSpec
from kdial.state.keys import CampaignKeys
from kdial_cli.demo import agents, examples, report, view
from kdial_cli.demo.agents import Floor, Staff
from kdial_cli.demo.cluster import Api, Obj, emulated_api
from kdial_cli.demo.examples import PREDICTIVE, QUICKSTART, Example, Pace
from kdial_cli.demo.report import AgentReport, Contacts
from kdial_cli.demo.timeline import Timeline
from kdial_local import processes
from kdial_local.kubelet import Kubelet

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
NAMESPACE = "kdial-demo"
#: The Secret the worker pods read their Event Socket password from (the chart's default name);
#: the simulator's password is FreeSWITCH's stock one.
ESL_SECRET, ESL_PASSWORD = "kdial-esl", "ClueCon"
#: Worker pods' grace period: a pod told to stop drains its calls for 10 s (the grace less 10).
GRACE_SECONDS = 20


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kdial demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--predictive",
        action="store_true",
        help="run examples/predictive-sales.yaml: simulated agents log in through `kdial api` "
        "and take the calls its pacer dials for them",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help=f"a shorter run, at most {QUICKSTART.fast.seconds:g} s of dialing "
        f"({PREDICTIVE.fast.seconds:g} with --predictive); CI runs this",
    )
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="run against this cluster (kdial installed, e.g. with charts/kdial) instead of an "
        "emulated API on this machine",
    )
    p.add_argument(
        "--namespace", default=NAMESPACE, help=f"namespace to run in (default {NAMESPACE})"
    )
    p.add_argument(
        "--redis-url",
        help="with --kubeconfig: the cluster's Redis, if reachable from here, for the "
        "attempt records in the report",
    )
    p.add_argument("--seconds", type=float, help="most seconds of dialing (default 75)")
    p.add_argument(
        "--examples", type=Path, default=EXAMPLES, help=f"the examples folder ({EXAMPLES})"
    )
    p.add_argument("--keep", action="store_true", help="keep the working folder (logs, kubeconfig)")
    return p


class Stop(KeyboardInterrupt):
    """SIGTERM or SIGHUP: wind down as for Ctrl-C."""


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    example = PREDICTIVE if args.predictive else QUICKSTART
    pace = example.fast if args.fast else example.full
    if args.seconds:
        pace = replace(pace, seconds=args.seconds)
    if args.predictive and args.kubeconfig:
        print(
            "kdial demo: --predictive runs on this machine only: its agents' phones are the "
            "simulated switch's",
            file=sys.stderr,
        )
        return 2
    if not all((args.examples / name).exists() for name in example.files):
        print(f"kdial demo: no {example.name} in {args.examples}: pass --examples", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="kdial-demo-"))
    keep = args.keep
    with _signals_stop():
        try:
            if args.kubeconfig:
                Demo(args, example, pace, workdir).on_cluster(args.kubeconfig)
            else:
                Demo(args, example, pace, workdir).on_this_machine()
        except KeyboardInterrupt:
            print("\nkdial demo: interrupted; every process it started is stopped", flush=True)
            return 130
        except BaseException:  # a failure (SystemExit too): keep the logs for a look
            keep = True
            raise
        finally:
            if keep:
                print(f"kdial demo: logs kept in {workdir}", flush=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return 0


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    def stop(signum: int, _: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Demo:
    args: argparse.Namespace
    example: Example
    pace: Pace
    workdir: Path
    started: float = field(default_factory=time.time)
    timeline: Timeline = field(init=False)
    notes: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)
    tty: bool = field(default_factory=sys.stdout.isatty)
    kubelet: Kubelet | None = None
    rdb: redis.Redis | None = None
    hint: str = ""
    operator: subprocess.Popen[bytes] | None = None
    floor: Floor | None = None
    """Where the example's agents work (on this machine, for an example with agents)."""
    _last_line: tuple[float, str] = (0.0, "")
    _seen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.timeline = Timeline(self.started)

    @property
    def keys(self) -> CampaignKeys:
        return CampaignKeys(self.args.namespace, self.example.campaign)

    def elapsed(self) -> float:
        return time.time() - self.started

    def say(self, text: str) -> None:
        """A line of the run's own story (setup, teardown)."""
        self.timeline.note(self.elapsed(), "demo", text)
        self._print_entries()

    def _print_entries(self) -> None:
        """Prints the timeline's entries not printed yet, in order."""
        fresh = [e for e in self.timeline.entries if id(e) not in self._seen]
        self._seen.update(id(e) for e in fresh)
        for entry in sorted(fresh, key=lambda e: e.at):
            print(view.entry_line(entry), flush=True)

    # --- the two ways to run -----------------------------------------------------------------

    def on_this_machine(self) -> None:
        namespace = self.args.namespace
        kubeconfig = self.workdir / "kubeconfig"
        (self.workdir / "pods").mkdir()
        # The switch's configuration folder: the kubelet projects each pod's gateways Secret
        # into it, and the simulator reads them from it as the pod's FreeSWITCH would.
        switch_conf = self.workdir / "conf"
        switch_conf.mkdir()
        with ExitStack() as stack:
            stack.enter_context(emulated_api(kubeconfig, namespace))
            self.hint = f"kubectl --kubeconfig {kubeconfig} get camp,tp"
            print(f"kdial demo: Kubernetes API emulated here; try: {self.hint}", flush=True)
            redis_url = stack.enter_context(processes.redis_server(self.workdir))
            self.say("redis-server started")
            self.operator = processes.operator(
                kubeconfig,
                redis_url,
                self.workdir / "operator.log",
                "--standalone",
                f"--namespace={namespace}",
                f"--liveness=http://127.0.0.1:{processes.free_port()}/healthz",
                KDIAL_STATUS_INTERVAL_SECONDS="1",
                KDIAL_RETRY_SECONDS="2",
                # 40 concurrent calls at 20 per worker: two workers while the backlog lasts.
                KDIAL_CALLS_PER_WORKER="20",
                KDIAL_WORKER_GRACE_SECONDS=str(GRACE_SECONDS),
                KDIAL_ESL_PASSWORD_SECRET=ESL_SECRET,
            )
            stack.callback(processes.stop, self.operator)
            self.say("kdial operator started")
            api = Api.from_kubeconfig(kubeconfig, namespace)
            self.rdb = redis.Redis.from_url(redis_url, decode_responses=True)
            stack.callback(self.rdb.close)
            api.secret(ESL_SECRET, {"password": ESL_PASSWORD})
            self.apply_lists(api)
            scenario = self.scenario()
            if names := agents.names(scenario)[: self.pace.agents]:
                # Started while the operator imports the list.
                self.floor = stack.enter_context(
                    agents.floor(
                        api,
                        names,
                        kubeconfig=kubeconfig,
                        redis_url=redis_url,
                        workdir=self.workdir,
                        wrap_up_seconds=self.pace.wrap_up_seconds,
                    )
                )
                self.say(f"kdial api started; agents {', '.join(names)} have tokens in its Secret")
            self.wait_imported(api)
            esl = stack.enter_context(
                processes.simulator(
                    scenario, self.pace.speed, workdir=self.workdir, conf=switch_conf
                )
            )
            carriers = ", ".join(scenario["carriers"])
            self.say(f"kdial sim started (--speed {self.pace.speed:g}): carriers {carriers}")
            self.kubelet = Kubelet(
                api.client,
                namespace,
                self.workdir / "pods",
                # One simulator plays every pod's FreeSWITCH.
                {"KDIAL_ESL_HOST": esl[0], "KDIAL_ESL_PORT": str(esl[1])},
                notify=lambda text: self.notes.put((self.elapsed(), text)),
                switch_conf=switch_conf,
            )
            stopped = threading.Event()
            thread = threading.Thread(target=self.kubelet.run, args=(stopped,), daemon=True)
            thread.start()
            stack.callback(self._stop_kubelet, stopped, thread)
            self.run(api)

    def _stop_kubelet(self, stopped: threading.Event, thread: threading.Thread) -> None:
        assert self.kubelet is not None
        stopped.set()
        thread.join(timeout=10)
        if self.kubelet.pods():
            print(f"kdial demo: stopping workers (they drain up to {GRACE_SECONDS - 10} s)")
        self.kubelet.shutdown()

    def on_cluster(self, kubeconfig: Path) -> None:
        api = Api.from_kubeconfig(kubeconfig, self.args.namespace)
        if not api.has_crds():
            raise SystemExit(
                "kdial demo: kdial's CRDs are not installed in that cluster: install kdial "
                "(helm install kdial charts/kdial) and run this again"
            )
        api.ensure_namespace()
        if self.args.redis_url:
            self.rdb = redis.Redis.from_url(self.args.redis_url, decode_responses=True)
        self.hint = f"kubectl --kubeconfig {kubeconfig} -n {api.namespace} get camp,tp"
        print(f"kdial demo: running in namespace {api.namespace}; try: {self.hint}", flush=True)
        campaign = self.example.campaign
        if api.delete("campaigns", campaign):
            self.say(f"deleting the {campaign} campaign of an earlier run")
            self.wait(api, "the old campaign gone", lambda: not api.get("campaigns", campaign))
        self.apply_lists(api)
        self.wait_imported(api)
        self.run(api)
        files = " ".join(f"-f examples/{name}" for name in self.example.files)
        print(
            f"The {self.example.name} objects stay in namespace {api.namespace}; remove them with"
        )
        print(f"  kubectl --kubeconfig {kubeconfig} -n {api.namespace} delete {files}")

    # --- the run -----------------------------------------------------------------------------

    def scenario(self) -> dict[str, Any]:
        """The switch's scenario: the example's carriers (and agents' phones)."""
        path = self.args.examples / "sim" / self.example.scenario
        return cast(dict[str, Any], yaml.safe_load(path.read_text("utf-8")))

    def apply_lists(self, api: Api) -> None:
        """Applies the example's lists and pools, adapted to the run, as it says."""
        adapted = self.adapted()
        for note in adapted.notes:
            self.say(note)
        for name, data in adapted.secrets.items():
            api.secret(name, data)
        applied = [d for d in adapted.docs if d["kind"] != "Campaign"]
        for doc in applied:
            api.apply(doc)
        self.say("applied " + ", ".join(f"{d['kind']} {d['metadata']['name']}" for d in applied))

    def wait_imported(self, api: Api) -> None:
        contact_list = self.example.contact_list

        def imported() -> bool:
            found = api.get("contactlists", contact_list)
            return view.condition(found, "Ready").get("status") == "True"

        self.wait(api, "the contact list imported", imported, timeout=120)
        status = (api.get("contactlists", contact_list) or {}).get("status") or {}
        counts = status.get("counts") or {}
        self.say(
            f"contact list imported: {counts.get('imported', '?')} contacts, "
            f"{counts.get('rejected', 0)} rejected"
        )

    def adapted(self) -> examples.Adapted:
        docs = examples.load(self.example, self.args.examples)
        return examples.adapt(self.example, docs, self.pace.contacts)

    def run(self, api: Api) -> None:
        """Applies the Campaign, shows the live view until it is done or its time is up, drains
        it, and prints the report. A campaign with agents has them logged in meanwhile."""
        campaign = next(d for d in self.adapted().docs if d["kind"] == "Campaign")
        api.apply(campaign)
        began = self.elapsed()
        self.say(f"applied Campaign {self.example.campaign}")
        with self.staffed(api) as staff:
            deadline = time.time() + self.pace.seconds
            camp = self.dial(api, deadline)
            ended = self.elapsed()
            if (camp or {}).get("status", {}).get("summary") != "Completed":
                api.patch_spec("campaigns", self.example.campaign, {"state": "Paused"})
                self.say("paused the campaign: the operator scales its workers to zero")
            # The agents' figures over the dialing, before the drain leaves them idle.
            stats = staff.stats() if staff else None
            self.wait(api, "the workers drained", lambda: self.drained(api), GRACE_SECONDS + 30)
            if staff:
                self.wait(api, "the agents' last wrap-ups", self.wrapped_up, timeout=30)
        camp = self.observe(api, final=True)
        pool = api.get("trunkpools", self.example.trunk_pool) or {}
        cap = CampaignSpec.model_validate(campaign["spec"]).pacing.max_abandon_percent
        print()
        print(
            report.report(
                f"{api.namespace}/{self.example.campaign}",
                records=self.records(),
                trunks=[t["name"] for t in pool["spec"]["trunks"]],
                contacts=self.contacts(camp),
                timeline=self.timeline,
                dialing=(began, ended),
                staffing=None if stats is None else AgentReport(stats, cap),
            ),
            flush=True,
        )

    def dial(self, api: Api, deadline: float) -> Obj | None:
        """Shows the live view until every contact is closed, or nothing more is due, or
        `deadline`; the campaign as last read."""
        while True:
            camp = self.observe(api)
            if (camp or {}).get("status", {}).get("summary") == "Completed":
                self.say("every contact is closed")
                return camp
            if time.time() >= deadline:
                self.say(f"{self.pace.seconds:g} s of dialing are up")
                return camp
            if self.nothing_due_before(deadline):
                self.say("nothing more is due before the time is up")
                return camp
            time.sleep(1)

    def staffed(self, api: Api) -> contextlib.AbstractContextManager[Staff | None]:
        """The example's agents at work while the block runs (nobody for an agentless one)."""
        if self.floor is None:
            return contextlib.nullcontext()
        return self.floor.staffed(api.namespace, self.example.campaign, self.say)

    def wrapped_up(self) -> bool:
        return self.rdb is None or agents.wrapping_up(self.rdb, self.keys) == 0

    def wait(self, api: Api, what: str, done: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while not done():
            if time.time() > deadline:
                where = "" if self.operator else " (is kdial's operator running in that cluster?)"
                raise SystemExit(f"kdial demo: timed out waiting for {what}{where}")
            self.observe(api)
            time.sleep(0.5)

    def observe(self, api: Api, final: bool = False) -> Obj | None:
        """Reads the campaign, the trunk pool, the Deployment and the Events; shows them."""
        if self.operator is not None and self.operator.poll() is not None:
            log = self.workdir / "operator.log"
            tail = "\n".join(log.read_text("utf-8", "replace").splitlines()[-20:])
            raise SystemExit(
                f"kdial demo: the operator exited ({self.operator.returncode}):\n{tail}"
            )
        now = self.elapsed()
        campaign = api.get("campaigns", self.example.campaign)
        pool = api.get("trunkpools", self.example.trunk_pool)
        deployment = api.deployment(self.example.workers)
        while not self.notes.empty():
            at, text = self.notes.get()
            self.timeline.note(at, "kubelet", text.removeprefix("kubelet: "))
        if pool:
            self.timeline.trunks(now, pool.get("status") or {})
        trunk_names = [t["name"] for t in ((pool or {}).get("spec") or {}).get("trunks", [])]
        self.timeline.events(now, api.events(), trunk_names)
        self.timeline.replicas(now, (deployment or {}).get("spec", {}).get("replicas"))
        self.show(now, campaign, pool, final)
        return campaign

    def show(self, now: float, campaign: Obj | None, pool: Obj | None, final: bool) -> None:
        if self.tty:
            pods = self.kubelet.pods() if self.kubelet else None
            text = view.frame(
                now,
                campaign=campaign,
                pool=pool,
                pods=pods,
                entries=self.timeline.recent(12),
                hint=self.hint,
            )
            print("\x1b[H\x1b[2J" + text, flush=True)
            return
        self._print_entries()
        line = view.summary(campaign, pool)
        last_at, last = self._last_line
        if final or (line and line != last and now - last_at >= 5):
            print(f"  +{now:>3.0f}s  {line}", flush=True)
            self._last_line = (now, line)

    def drained(self, api: Api) -> bool:
        deployment = api.deployment(self.example.workers)
        replicas = (deployment or {}).get("spec", {}).get("replicas", 0)
        if self.kubelet is not None:
            return replicas == 0 and not self.kubelet.pods()
        campaign = api.get("campaigns", self.example.campaign) or {}
        status = campaign.get("status") or {}
        return (
            replicas == 0
            and not status.get("activeCalls")
            and not ((status.get("workers") or {}).get("ready"))
        )

    def nothing_due_before(self, deadline: float) -> bool:
        """Nothing is in flight and no contact comes due before `deadline` (with Redis)."""
        if self.rdb is None:
            return False
        keys = self.keys
        pipe = self.rdb.pipeline(transaction=False)
        pipe.scard(keys.known)
        pipe.xlen(keys.attempts)
        pipe.hlen(keys.inflight)
        pipe.zcount(keys.due, "-inf", int(deadline * 1000))
        known, attempts, in_flight, due = pipe.execute()
        return bool(known and attempts and not in_flight and not due)

    def records(self) -> list[dict[str, str]] | None:
        if self.rdb is None:
            return None
        entries = cast(list[tuple[str, dict[str, str]]], self.rdb.xrange(self.keys.attempts))
        return [fields for _, fields in entries]

    def contacts(self, campaign: Obj | None) -> Contacts | None:
        if self.rdb is not None:
            keys = self.keys
            pipe = self.rdb.pipeline(transaction=False)
            for command, key in [
                ("scard", keys.known),
                ("hlen", keys.closed),
                ("zcard", keys.due),
                ("hlen", keys.inflight),
            ]:
                getattr(pipe, command)(key)
            total, closed, pending, in_flight = pipe.execute()
            return Contacts(total, closed, pending, in_flight)
        progress = ((campaign or {}).get("status") or {}).get("progress")
        if not progress:
            return None
        return Contacts(
            progress["total"], progress["closed"], progress["pending"], progress["inFlight"]
        )
