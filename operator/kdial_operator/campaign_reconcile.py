"""One pass of a campaign's reconciliation: from its spec and the world to its workers and status.

Level-based: each pass reads everything afresh, so a missed event, a restart or a referent that
appears late all converge on the next pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import kopf
from pydantic import ValidationError
from redis.exceptions import RedisError

from kdial.agent_lines import agent_lines
from kdial.api.campaign import (
    AgentCounts,
    CampaignSpec,
    CampaignState,
    CampaignStatus,
    WorkerStatus,
)
from kdial.api.conditions import merged
from kdial.api.contactlist import Purpose
from kdial.api.kinds import CAMPAIGN
from kdial.api.meta import explain
from kdial.state.agents import Staffing
from kdial.state.config import CampaignConfig
from kdial.state.counters import CampaignCounts
from kdial.state.keys import CampaignKeys, ListKeys
from kdial.state.wire import Generation
from kdial_operator import campaign_events, campaign_status, compile, dataplane, scaling, workload
from kdial_operator.campaign_status import Blocker, Facts
from kdial_operator.indexes import Key, Referent, key_of
from kdial_operator.kube import Refused
from kdial_operator.manifests import DeploymentSeen
from kdial_operator.settings import OperatorSettings

log = logging.getLogger(__name__)

ROLLING_MINUTES = 15
# A campaign's pass runs every few seconds; a GET of each Secret on every pass of every campaign
# would be most of the operator's API traffic, for Secrets that rarely go away.
SECRETS_RECHECK_SECONDS = 60.0
TEMPLATE_HASH = "kdial.io/template-hash"


@dataclass(frozen=True)
class Referents:
    """The indexes of the kinds a campaign refers to."""

    contactlists: kopf.Index[Key, Referent]
    trunkpools: kopf.Index[Key, Referent]
    calleridpools: kopf.Index[Key, Referent]


def references(namespace: str, spec: CampaignSpec, refs: Referents) -> Blocker | None:
    """The first reference that is missing or not Ready, as a blocker naming it."""
    wanted: list[tuple[str, kopf.Index[Key, Referent], str, Purpose | None]] = [
        ("ContactList", refs.contactlists, spec.contact_list_ref.name, Purpose.DIAL),
        *[("TrunkPool", refs.trunkpools, r.name, None) for r in spec.trunk_pool_refs],
        ("CallerIdPool", refs.calleridpools, spec.caller_id_pool_ref.name, None),
        *[
            ("ContactList", refs.contactlists, r.name, Purpose.SUPPRESS)
            for r in spec.suppression_list_refs
        ],
    ]
    for kind, index, name, purpose in wanted:
        found = list(index.get((namespace, name), ()))
        if not found:
            return Blocker(
                "ReferenceNotFound",
                f"{kind} {name!r} not found in namespace {namespace!r}",
                "Waiting",
            )
        referent = found[0]
        if purpose and referent.spec.get("purpose", Purpose.DIAL.value) != purpose.value:
            return Blocker(
                "ReferenceInvalid",
                f"{kind} {name!r} has purpose {referent.spec.get('purpose', 'Dial')}, "
                f"expected {purpose.value}",
                "Invalid",
            )
        if not referent.ready:
            return Blocker(
                "ReferenceNotReady", f"{kind} {name!r} is not Ready: {referent.message}", "Waiting"
            )
    return None


GATEWAY_CONFLICT = "GatewayConflict"


def gateway_conflict(namespace: str, spec: CampaignSpec, refs: Referents) -> Blocker | None:
    """Two of the campaign's pools defining a gateway of one name (a gateway trunk's name): one
    switch holds every pool's gateways, and would keep only one of them."""
    pools: dict[str, list[str]] = {}
    for pool in dict.fromkeys(r.name for r in spec.trunk_pool_refs):
        for referent in refs.trunkpools.get((namespace, pool), ()):
            for trunk in referent.spec.get("trunks", []):
                if trunk.get("gateway"):
                    pools.setdefault(trunk.get("name", ""), []).append(pool)
    clashes = {trunk: found for trunk, found in pools.items() if len(found) > 1}
    if not clashes:
        return None
    named = "; ".join(
        f"gateway trunk {trunk!r} is in TrunkPools {', '.join(found)}"
        for trunk, found in sorted(clashes.items())
    )
    return Blocker(
        GATEWAY_CONFLICT,
        f"{named}: the campaign's workers load every pool's gateways into one switch, which "
        "keeps one gateway of a name; rename the trunk in one pool, or dial those pools from "
        "separate campaigns",
        "Invalid",
    )


async def missing_secret(memo: kopf.Memo, namespace: str, recall: Recall) -> Blocker | None:
    """The first Secret worker pods read that the campaign's namespace lacks. Their pods could
    not start: the Campaign says so, rather than show workers that never get ready. Once found,
    they are looked up again only after `SECRETS_RECHECK_SECONDS`."""
    now = time.monotonic()
    if (
        recall.secrets_found_at is not None
        and now - recall.secrets_found_at < SECRETS_RECHECK_SECONDS
    ):
        return None
    recall.secrets_found_at = None
    for name, key in workload.secret_refs(memo.settings):
        found = await memo.kube.has_secret_key(namespace, name, key)
        if found is None:
            # RBAC from before the operator read Secrets (an image upgraded without its chart):
            # a check it cannot make must not stop the campaign.
            log.warning(
                "may not read Secret %r in namespace %r to check that worker pods can start: "
                "grant get on secrets (the chart does)",
                name,
                namespace,
            )
        elif not found:
            return Blocker(
                "SecretNotFound",
                f"Secret {name!r} with key {key!r}, which worker pods read, not found in "
                f"namespace {namespace!r}: the Helm chart writes it into its release namespace "
                "and each of watchNamespaces; list this namespace there, or copy the Secret here",
                "Waiting",
            )
    recall.secrets_found_at = now
    return None


def no_route(namespace: str, spec: CampaignSpec, refs: Referents) -> str | None:
    """A message when every trunk of every pool the campaign dials through is ejected."""
    pools = [
        next(iter(refs.trunkpools.get((namespace, r.name), ())), None) for r in spec.trunk_pool_refs
    ]
    if not pools or any(p is None or p.serving is None or p.serving > 0 for p in pools):
        return None
    names = ", ".join(r.name for r in spec.trunk_pool_refs)
    return (
        f"no trunk takes calls: every trunk of TrunkPool {names} is Ejected; contacts wait "
        "until a trunk is probed back into service (see the pool's status)"
    )


def trunk_capacity(namespace: str, spec: CampaignSpec, refs: Referents) -> int:
    total = 0
    for ref in spec.trunk_pool_refs:
        for referent in refs.trunkpools.get((namespace, ref.name), ()):
            total += sum(t.get("maxConcurrentCalls", 0) for t in referent.spec.get("trunks", []))
    return total


@dataclass
class Recall:
    """What a campaign's daemon remembers between passes."""

    known_total: int = 0
    """The most contacts the campaign was seen to hold. Status says the same, but the daemon's
    copy of status may lag its own patch by a watch event: a pass that reads Redis emptied in
    between must still know the state was lost, not take the list again from the start."""
    secrets_found_at: float | None = None
    """When the namespace last held every Secret worker pods read (`missing_secret`)."""
    workers_refused: str | None = None
    """The last refusal of the worker Deployment, logged once rather than on every pass."""
    budget_applied: bool = False
    """Whether this process wrote the workers' PodDisruptionBudget: once is enough, since
    only the Campaign's uid changes it, and that makes another Recall."""
    announced: Mapping[str, object] | None = None
    """The status the last pass announced (its Events), or status as the first pass found it.
    Not read off status: a status write whose reply was lost may have landed all the same."""


@dataclass
class Observed:
    """What one pass saw of a campaign: its spec, what blocks it, and its data plane."""

    spec: CampaignSpec | None
    blocker: Blocker | None
    hold: str | None = None
    ledger: dataplane.Ledger | None = None
    totals: CampaignCounts = field(default_factory=CampaignCounts)
    rolling: CampaignCounts = field(default_factory=CampaignCounts)
    version: int | None = None
    lost: bool = False
    no_route: str | None = None
    workers_refused: str | None = None
    config_refused: str | None = None
    staffing: Staffing = field(default_factory=Staffing)

    @property
    def state(self) -> CampaignState:
        return self.spec.state if self.spec else CampaignState.RUNNING


async def reconcile(body: kopf.Body, memo: kopf.Memo, refs: Referents, recall: Recall) -> None:
    namespace, name = key_of(body)
    now = datetime.now(UTC)
    seen = await observe(body, memo, refs, now, recall)
    desired = wanted_workers(seen, trunk_capacity_of(namespace, seen, refs), memo.settings)
    ready, seen.workers_refused = await workers(
        body, memo, seen.spec, desired, remove=seen.state is CampaignState.STOPPED, recall=recall
    )
    if seen.workers_refused and seen.workers_refused != recall.workers_refused:
        log.warning("campaign %s/%s: %s", namespace, name, seen.workers_refused)
    recall.workers_refused = seen.workers_refused
    status = status_of(body, seen, desired, ready, now).as_patch()
    previous = dict(body.status)
    if recall.announced is None:
        recall.announced = previous
    if _differs(status, previous):
        await memo.kube.patch_status(CAMPAIGN.plural, namespace, name, status)
    if _differs(status, recall.announced):
        _announce(body, recall.announced, status)
        recall.announced = status


async def observe(
    body: kopf.Body, memo: kopf.Memo, refs: Referents, now: datetime, recall: Recall
) -> Observed:
    """Validates the spec, resolves references, and brings the data plane in line with both."""
    namespace, name = key_of(body)
    keys = CampaignKeys(namespace, name)
    try:
        spec = CampaignSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        seen = Observed(None, Blocker("InvalidSpec", explain(error), "Invalid"))
    else:
        hold = campaign_status.schedule_hold(spec.schedule.start_time, spec.schedule.end_time, now)
        blocker = (
            references(namespace, spec, refs)
            or gateway_conflict(namespace, spec, refs)
            or await missing_secret(memo, namespace, recall)
        )
        seen = Observed(spec, blocker, hold)
        seen.no_route = no_route(namespace, spec, refs)
    seen.version = body.status.get("configVersion")
    try:
        # Agents may log in before a campaign can dial, and their count says when it can.
        seen.staffing = await dataplane.staffing(memo.redis, keys)
        if seen.spec is None or seen.blocker:
            await halt(memo.redis, keys)
        else:
            known = int(body.status.get("progress", {}).get("total", 0))
            recall.known_total = max(recall.known_total, known)
            await sync_dataplane(memo.redis, keys, seen.spec, seen, recall)
    except RedisError as error:
        seen.blocker = Blocker(
            "RedisUnavailable", f"cannot reach Redis: {error}; retrying", "Waiting"
        )
    return seen


async def sync_dataplane(
    rdb: dataplane.Redis, keys: CampaignKeys, spec: CampaignSpec, seen: Observed, recall: Recall
) -> None:
    """Compiles the config and takes new contacts, unless Redis lost the campaign's state."""
    seen.ledger = await dataplane.ledger(rdb, keys)
    seen.lost = recall.known_total > 0 and not seen.ledger.has_epoch
    dialing = spec.state is CampaignState.RUNNING and not seen.hold and not seen.lost
    config = compile.campaign_config(keys.namespace, keys.name, spec, dialing)
    seen.version = await dataplane.write_config(rdb, keys.config, config)
    if not seen.lost:
        sample = spec.trial.sample_percent if spec.trial else None
        await dataplane.seed(
            rdb, keys, ListKeys(keys.namespace, spec.contact_list_ref.name), sample
        )
        seen.ledger = await dataplane.ledger(rdb, keys)
        recall.known_total = max(recall.known_total, seen.ledger.total)
        if campaign_status.completed(seen.ledger):
            await dataplane.retain(rdb, keys, seen.ledger, spec.retention.contact_data_days)
    seen.totals, seen.rolling = await dataplane.counters(rdb, keys, ROLLING_MINUTES)
    seen.config_refused = await dataplane.config_refusal(rdb, keys)


def trunk_capacity_of(namespace: str, seen: Observed, refs: Referents) -> int:
    return trunk_capacity(namespace, seen.spec, refs) if seen.spec else 0


def wanted_workers(seen: Observed, capacity: int, settings: OperatorSettings) -> int:
    if seen.spec is None or seen.blocker or seen.lost:
        return 0
    ledger = seen.ledger
    demand = scaling.Demand(
        dialing=seen.state is CampaignState.RUNNING
        and not seen.hold
        and not campaign_status.completed(ledger),
        max_concurrency=seen.spec.pacing.max_concurrency,
        trunk_capacity=capacity,
        due_now=ledger.due_now if ledger else 0,
        pending=ledger.pending if ledger else 0,
        in_flight=ledger.in_flight if ledger else 0,
        agent_lines=agent_lines(
            seen.spec.mode, seen.spec.pacing.max_dial_ratio, seen.staffing.logged_in
        ),
    )
    bounds = seen.spec.workers
    return scaling.desired_workers(demand, settings.calls_per_worker, bounds.min, bounds.max)


def status_of(
    body: kopf.Body, seen: Observed, desired: int, ready: int, now: datetime
) -> CampaignStatus:
    facts = Facts(
        seen.blocker,
        seen.state,
        seen.ledger,
        ready,
        seen.hold,
        seen.lost,
        seen.no_route,
        seen.workers_refused,
        seen.config_refused,
    )
    conditions, summary = campaign_status.decide(facts)
    generation = body.meta.get("generation")
    old = list(body.status.get("conditions", []))
    return CampaignStatus(
        observed_generation=generation,
        conditions=merged(old, conditions, generation, now),
        summary=summary,
        progress=campaign_status.progress(seen.ledger),
        active_calls=seen.ledger.in_flight if seen.ledger else 0,
        waiting=campaign_status.waiting(seen.ledger),
        rolling=campaign_status.call_stats(seen.rolling),
        to_date=campaign_status.call_stats(seen.totals),
        workers=WorkerStatus(desired=desired, ready=ready, summary=f"{ready}/{desired}"),
        agents=AgentCounts(**seen.staffing._asdict(), previews_skipped=seen.totals.preview_skipped),
        config_version=seen.version,
    )


async def halt(rdb: dataplane.Redis, keys: CampaignKeys) -> None:
    """Tells any worker still running to stop claiming: the spec or a referent went bad."""
    raw = await rdb.get(keys.config)
    if raw:
        config = CampaignConfig.of(Generation.decode(raw).content)
        await dataplane.write_config(rdb, keys.config, config.model_copy(update={"dialing": False}))


async def workers(
    body: kopf.Body,
    memo: kopf.Memo,
    spec: CampaignSpec | None,
    replicas: int,
    *,
    remove: bool,
    recall: Recall,
) -> tuple[int, str | None]:
    """Brings the worker Deployment to `replicas` (or removes it) and writes its
    PodDisruptionBudget once a process; returns its ready replicas, and why the API server
    refused to write either, if it did: the pass goes on to write status.

    An invalid or blocked campaign keeps an existing Deployment at zero but never creates one.
    """
    namespace, name = key_of(body)
    deployment_name = workload.deployment_name(name)
    if remove:
        # The budget stays, selecting no pods, until the Campaign goes (it owns it).
        await memo.kube.delete_deployment(namespace, deployment_name)
        return 0, None
    existing = await memo.kube.read_deployment(namespace, deployment_name)
    if existing is None and (spec is None or replicas == 0):
        return 0, None
    manifest = workload.worker_deployment(
        namespace,
        name,
        body.meta.uid,
        replicas,
        memo.settings,
        trunk_pools=_trunk_pools(body, spec),
    )
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    manifest["metadata"]["annotations"] = {TEMPLATE_HASH: digest}
    if existing is None or _template_hash(existing) != digest:
        try:
            existing = await memo.kube.apply_deployment(manifest)
        except Refused as refused:
            problem = f"the API server refused the worker Deployment {deployment_name!r}: {refused}"
            return _ready_replicas(existing), problem
    if not recall.budget_applied:
        budget = workload.worker_disruption_budget(namespace, name, body.meta.uid)
        try:
            await memo.kube.apply_disruption_budget(budget)
        except Refused as refused:
            problem = f"the API server refused the workers' PodDisruptionBudget: {refused}"
            return _ready_replicas(existing), problem
        recall.budget_applied = True
    return _ready_replicas(existing), None


def _trunk_pools(body: kopf.Body, spec: CampaignSpec | None) -> list[str]:
    """The TrunkPools whose gateways the workers mount: those the campaign names (in an invalid
    spec, whose Deployment is kept at zero, as far as they can be read)."""
    if spec is not None:
        return [ref.name for ref in spec.trunk_pool_refs]
    refs = body.spec.get("trunkPoolRefs")
    listed = refs if isinstance(refs, list) else []
    return [str(r["name"]) for r in listed if isinstance(r, dict) and r.get("name")]


def _template_hash(deployment: DeploymentSeen) -> str | None:
    return deployment.get("metadata", {}).get("annotations", {}).get(TEMPLATE_HASH)


def _ready_replicas(deployment: DeploymentSeen | None) -> int:
    if deployment is None:
        return 0
    return deployment.get("status", {}).get("readyReplicas", 0)


def _differs(new: Mapping[str, object], old: Mapping[str, object]) -> bool:
    """Whether patching status `new` (JSON) would change the stored `old`."""
    return any(old.get(k) != v for k, v in new.items())


def _announce(body: kopf.Body, old: Mapping[str, object], new: Mapping[str, object]) -> None:
    """A Kubernetes Event when the campaign's state, or what holds it, changes."""
    event = campaign_events.announcement(old, new)
    if event:
        post = kopf.warn if event.warning else kopf.info
        post(body, reason=event.reason, message=event.message)
