"""The Redis key schema: one place that names every key of the data plane.

Every key of one campaign carries the campaign's hash tag, so a campaign lives on one Redis
Cluster shard and its Lua scripts may touch all its keys atomically. Lists and pools have tags
of their own; nothing atomic ever spans two tags.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "kdial"


def _tag(kind: str, namespace: str, name: str) -> str:
    return f"{PREFIX}:{{{kind}:{namespace}/{name}}}"


@dataclass(frozen=True)
class CampaignKeys:
    """Keys of one campaign's state. The ledger: every contact in `known` is in exactly one of
    `due` (pending), `inflight` (values) or `closed`."""

    namespace: str
    name: str

    @property
    def base(self) -> str:
        return _tag("c", self.namespace, self.name)

    @property
    def config(self) -> str:
        """STRING: the compiled runtime config workers read, a `kdial.state.config.CampaignConfig`
        in a `kdial.state.wire.Generation`."""
        return f"{self.base}:config"

    @property
    def config_refused(self) -> str:
        """STRING with a TTL: why a worker cannot read `config` (a newer schema, say). Each
        refusing worker refreshes it, so it expires soon after the last one reads again."""
        return f"{self.base}:config-refused"

    @property
    def epoch(self) -> str:
        """STRING: set when the campaign's state is created; its absence later means Redis lost
        the state, and nothing may dial until a person looks."""
        return f"{self.base}:epoch"

    @property
    def seeded(self) -> str:
        """STRING: JSON naming the list the campaign last took contacts from (namespace/name
        and a fingerprint of its id key, which a re-created list does not share), its import
        version and the trial sample."""
        return f"{self.base}:seeded"

    @property
    def known(self) -> str:
        """SET: ids of every contact the campaign took from its list."""
        return f"{self.base}:known"

    @property
    def due(self) -> str:
        """ZSET: pending contact id -> when it is due (ms since the epoch, Redis clock)."""
        return f"{self.base}:due"

    @property
    def leases(self) -> str:
        """ZSET: attempt id -> lease expiry (ms, Redis clock)."""
        return f"{self.base}:leases"

    @property
    def inflight(self) -> str:
        """HASH: attempt id -> contact id, for attempts under way."""
        return f"{self.base}:inflight"

    @property
    def contacts(self) -> str:
        """HASH: contact id -> its attempt history (JSON: attempts, first attempt, outcomes)."""
        return f"{self.base}:contacts"

    @property
    def closed(self) -> str:
        """HASH: closed contact id -> the outcome that closed it."""
        return f"{self.base}:closed"

    @property
    def retired(self) -> str:
        """HASH: contact id -> the outcome that closed it, for closed contacts of a list the
        campaign no longer dials (`spec.contactListRef` changed, or the list was made again).
        Outside the ledger, so progress counts the current list; a contact that comes back
        comes back closed."""
        return f"{self.base}:retired"

    @property
    def callee_key(self) -> str:
        """STRING: the secret callee keys are derived from (HMAC of the number), so the
        campaign recognises a callee under any list and says nothing of the number."""
        return f"{self.base}:callee-key"

    @property
    def callees(self) -> str:
        """HASH: callee key -> the contact id the campaign last took that number as. A contact
        of another list (spec.contactListRef changed, or the list made again) with the same
        number inherits that contact's history and closure."""
        return f"{self.base}:callees"

    @property
    def waiting(self) -> str:
        """HASH: pending contact id -> why it is due only later (`kdial.state.waits`), for
        contacts workers gave back for a reason; untagged once claimed or dropped."""
        return f"{self.base}:waiting"

    @property
    def waiting_counts(self) -> str:
        """HASH: reason -> contacts tagged with it in `waiting`, and `suppressed` -> contacts
        closed by do-not-call: what status reads instead of scanning the ledger."""
        return f"{self.base}:waiting-counts"

    @property
    def waiting_ends(self) -> str:
        """HASH: reason -> the latest time (ms, Redis clock) a contact tagged with it is due;
        for a window, when it next opens in that zone."""
        return f"{self.base}:waiting-ends"

    @property
    def waiting_until(self) -> str:
        """ZSET: contact id tagged in `waiting` -> when its wait ends (ms, Redis clock), so that
        a contact whose wait ended leaves the counts (`kdial.state.waits`, settle.lua)."""
        return f"{self.base}:waiting-until"

    @property
    def waits(self) -> tuple[str, str, str, str]:
        """The keys `waits.lua` keeps, in the order the scripts take them."""
        return (self.waiting, self.waiting_counts, self.waiting_ends, self.waiting_until)

    @property
    def finished(self) -> str:
        """STRING: JSON `{total, closed, at}` (at: ms, Redis clock) written when the campaign
        is first seen Completed. The contact data expires `spec.retention` after `at`; this
        stays, so the campaign still reads Completed and never takes its list again."""
        return f"{self.base}:finished"

    @property
    def contact_data(self) -> tuple[str, ...]:
        """The keys that hold data about callees (ids, histories, outcomes, attempt records
        with masked numbers): they expire after a completed campaign's retention period.
        Counters, config and epoch stay."""
        return (
            self.known,
            self.due,
            self.waiting,
            self.waiting_until,
            self.inflight,
            self.leases,
            self.contacts,
            self.closed,
            self.retired,
            self.callees,
            self.attempts,
            self.dispositions,
        )

    @property
    def attempt_seq(self) -> str:
        """STRING counter: the sequence attempt ids are drawn from."""
        return f"{self.base}:attempt-seq"

    @property
    def attempts(self) -> str:
        """STREAM: one record per attempt."""
        return f"{self.base}:attempts"

    @property
    def dispositions(self) -> str:
        """HASH: attempt id -> the `kdial.state.attempt.Disposition` its agent ended wrap-up
        with (the attempt's stream entry was appended before)."""
        return f"{self.base}:dispositions"

    @property
    def totals(self) -> str:
        """HASH: counters since the start (`attempts`, `answered`, `outcome:<Outcome>`, ...)."""
        return f"{self.base}:totals"

    @property
    def agents(self) -> str:
        """HASH: agent name -> the agent's `kdial.state.agents.AgentRecord` in this campaign
        (a logged-out agent keeps theirs, with when they logged out)."""
        return f"{self.base}:agents"

    @property
    def agent_changes(self) -> str:
        """STREAM: every agent state change in this campaign, oldest first, one
        `kdial.state.agents.AgentChange` per entry (field `change`, and `agent` to filter by);
        capped at `kdial.state.agents.CHANGES_KEPT` entries."""
        return f"{self.base}:agent-changes"

    @property
    def preview_dials(self) -> str:
        """LIST: `kdial.state.preview.DialRequest`s, one per record a Preview agent chose to
        dial, oldest first; the campaign's workers pop them."""
        return f"{self.base}:preview-dials"

    def preview_choice(self, attempt: str) -> str:
        """STRING: 'dial' or 'skip', what the agent chose for the record previewed under
        `attempt`; set once (NX), so a record is never both dialled and skipped."""
        return f"{self.base}:preview:{attempt}"

    @property
    def pacer_lease(self) -> str:
        """STRING with a TTL: the worker id running the campaign's predictive pacer. One worker
        holds it at a time (SET NX PX, renewed); when it lapses another takes over."""
        return f"{self.base}:pacer-lease"

    @property
    def permits(self) -> str:
        """STRING with a short TTL: calls the predictive pacer lets the campaign launch now.
        Claims take from it; once it expires (no pacer, or its decision went stale) claims fall
        back to progressive's cap."""
        return f"{self.base}:permits"

    @property
    def launched(self) -> str:
        """STRING: calls claimed under permits, ever; the pacer subtracts those claimed
        between its look and its decision from the permits it writes."""
        return f"{self.base}:launched"

    @property
    def paced_calls(self) -> str:
        """HASH: attempt id -> `ringing:<ms claimed, Redis clock>` or `waiting` (answered, no
        agent yet), for the predictive campaign's calls no agent has taken; what the pacer sees
        of calls under way on every worker."""
        return f"{self.base}:paced-calls"

    @property
    def pacer_outcomes(self) -> str:
        """LIST: JSON outcomes of predictive calls (ring, talk times; connected, abandoned) the
        workers push and the pacer drains; capped."""
        return f"{self.base}:pacer-outcomes"

    def minute(self, minute: int) -> str:
        """HASH: the same counters for one minute (minutes since the epoch); they expire."""
        return f"{self.base}:minute:{minute}"

    @property
    def pattern(self) -> str:
        """Glob matching every key of the campaign (for deletion)."""
        return f"{self.base.replace('{', '[{]').replace('}', '[}]')}:*"


@dataclass(frozen=True)
class AgentKeys:
    """Keys of a namespace's agents across its campaigns."""

    namespace: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{a:{self.namespace}}}"

    @property
    def seats(self) -> str:
        """HASH: agent name -> `kdial.state.agents.Seat`, the one campaign the agent is logged in
        to or logging in to, so that no agent takes calls of two campaigns at once."""
        return f"{self.base}:seats"


@dataclass(frozen=True)
class ListKeys:
    """Keys of one contact list's imported contacts."""

    namespace: str
    name: str

    @property
    def base(self) -> str:
        return _tag("l", self.namespace, self.name)

    @property
    def contacts(self) -> str:
        """HASH: contact id -> contact (JSON: E.164 number, time zone, region, fields, tags)."""
        return f"{self.base}:contacts"

    @property
    def numbers(self) -> str:
        """SET: every E.164 number in the list (suppression lists are checked against it)."""
        return f"{self.base}:numbers"

    @property
    def tags(self) -> str:
        """HASH: row tag -> contacts carrying it (from `spec.tagsField`; the list's own tags
        are on every contact and not counted). Swapped in with the contacts."""
        return f"{self.base}:tags"

    @property
    def version(self) -> str:
        """STRING counter: bumped by every import that changed the list."""
        return f"{self.base}:version"

    @property
    def id_key(self) -> str:
        """STRING: the secret contact ids are derived from (HMAC of the number), so an id is
        stable across imports and says nothing about the number."""
        return f"{self.base}:id-key"

    @property
    def digest(self) -> str:
        """STRING: digest of the last imported source, so re-importing it changes nothing."""
        return f"{self.base}:digest"

    @property
    def staging(self) -> str:
        """Prefix of an import's staging keys, `<staging>:<token>:contacts` (HASH), `:numbers`
        (SET) and `:tags` (HASH): a generation written aside and swapped in whole when
        complete."""
        return f"{self.base}:staging"

    @property
    def pattern(self) -> str:
        return f"{self.base.replace('{', '[{]').replace('}', '[}]')}:*"


@dataclass(frozen=True)
class PoolKeys:
    """Keys of a TrunkPool or CallerIdPool's compiled state."""

    kind: str  # "tp" or "cidp"
    namespace: str
    name: str

    @property
    def base(self) -> str:
        return _tag(self.kind, self.namespace, self.name)

    @property
    def config(self) -> str:
        """STRING: the compiled pool in a `kdial.state.wire.Generation`: a TrunkPool's
        `kdial.state.routing_table.RoutingTable`, a CallerIdPool's
        `kdial.state.caller_ids.CallerIdTable`."""
        return f"{self.base}:config"

    def counts(self, second: int) -> str:
        """HASH: outcomes counted in one second (seconds since the epoch) per trunk or caller
        ID, `<name>|<counter>` -> count (`kdial.state.counters`); they expire."""
        return f"{self.base}:counts:{second}"

    @property
    def gateways(self) -> str:
        """HASH (TrunkPool): worker id -> `kdial.state.gateways.GatewayReport`, what that
        worker's switch last said of the pool's gateways; the operator drops stale ones."""
        return f"{self.base}:gateways"

    @property
    def quarantined(self) -> str:
        """STRING (CallerIdPool): JSON list of the numbers resting now; the operator writes it,
        workers skip them."""
        return f"{self.base}:quarantined"

    @property
    def pattern(self) -> str:
        return f"{self.base.replace('{', '[{]').replace('}', '[}]')}:*"

    # Cluster-wide caps (kdial_worker.caps). They sit under the pool's own tag, never a
    # campaign's, because every campaign dialling through the pool shares them.

    def trunk_active(self, trunk: str) -> str:
        """ZSET (TrunkPool): attempt id -> slot expiry (ms, Redis clock) of the trunk's calls."""
        return f"{self.base}:trunk:{trunk}:active"

    def trunk_wanted(self, trunk: str) -> str:
        """ZSET (TrunkPool): '<priority>:<campaign>' -> until (ms, Redis clock): campaigns
        refused a slot on the trunk lately, which none of lower priority may take first."""
        return f"{self.base}:trunk:{trunk}:wanted"

    def trunk_cps(self, trunk: str) -> str:
        """ZSET (TrunkPool): grant id -> grant time (µs, Redis clock) of the trunk's originates
        in the last second: the sliding-window log its calls-per-second cap counts."""
        return f"{self.base}:trunk:{trunk}:cps"

    def number_active(self, number: str) -> str:
        """ZSET (CallerIdPool): attempt id -> slot expiry (ms, Redis clock) of the calls
        presenting this caller ID."""
        return f"{self.base}:number:{number}:active"

    def number_day(self, number: str) -> str:
        """STRING counter (CallerIdPool): calls presenting this caller ID today (UTC day on
        Redis's clock); it expires at the next UTC midnight, which starts the count over."""
        return f"{self.base}:number:{number}:day"

    def number_day_refunds(self, number: str) -> str:
        """SET (CallerIdPool): attempts taken back out of today's count of this caller ID
        (originates the switch refused before any session), so each is taken back once;
        it expires at the next UTC midnight with the count."""
        return f"{self.base}:number:{number}:day-refunds"
