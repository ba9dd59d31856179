"""Every Prometheus metric of the worker, in one place.

Labels are bounded: the campaign (one per worker), the trunk (a pool's few trunks), the
outcome (a closed enum), a reason from a fixed set. Never a number, a caller ID or a call id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "kdial_attempts_total",
    "Attempts ended, by outcome and trunk.",
    ["campaign", "trunk", "outcome"],
)
CALLS_ACTIVE = Gauge("kdial_calls_active", "Calls in flight on this worker.", ["campaign"])
CLAIMS = Counter("kdial_claims_total", "Contacts claimed from the campaign.", ["campaign"])
UNDIALLED = Counter(
    "kdial_contacts_undialled_total",
    "Claimed contacts given back or closed without a call, by reason.",
    ["campaign", "reason"],
)
PERMITS_DENIED = Counter(
    "kdial_permits_denied_total",
    "Originates held back by a cap (trunk concurrency or CPS, a campaign of higher priority "
    "waiting for the trunk, caller ID).",
    ["campaign", "reason"],
)
ORIGINATE_LATENCY = Histogram(
    "kdial_originate_latency_seconds",
    "Time from sending bgapi originate to its Job-UUID reply.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
POST_DIAL_DELAY = Histogram(
    "kdial_post_dial_delay_seconds",
    "Time from originate to the first sign of ringing (progress) or answer.",
    ["trunk"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30),
)
PACER_HOLDING = Gauge(
    "kdial_pacer_holding",
    "1 on the worker that holds the campaign's predictive pacer lease and issues its permits.",
    ["campaign"],
)
PACER_BRAKED = Gauge(
    "kdial_pacer_braked",
    "1 while the pacer's 30-minute abandon window is over its mode's limit: it dials "
    "progressively until the window recovers. Exported by the pacing worker only.",
    ["campaign"],
)
PACER_WINDOW_ABANDON = Gauge(
    "kdial_pacer_window_abandon_ratio",
    "Abandoned / answered calls over the pacer's trailing 30 minutes, as it sees them. "
    "Exported by the pacing worker only.",
    ["campaign"],
)
ESL_UP = Gauge("kdial_esl_up", "1 while the Event Socket connection is up.")
ESL_RECONNECTS = Counter("kdial_esl_reconnects_total", "Event Socket reconnections.")
LEASES_LOST = Counter(
    "kdial_leases_lost_total", "Attempts whose lease was lost before they ended.", ["campaign"]
)
CALLS_FENCED = Counter(
    "kdial_calls_fenced_total",
    "Calls hung up because their lease went unrenewed until their contact could be dialled "
    "again elsewhere (Redis out of reach, or the worker paused).",
    ["campaign"],
)
RECLAIMED = Counter(
    "kdial_reclaimed_total", "Contacts taken back from attempts whose lease expired.", ["campaign"]
)
SELF_INFLICTED = Counter(
    "kdial_self_inflicted_503_total",
    "Carrier 503s our own pace provoked: not counted against the line, and the trunk slowed.",
    ["trunk"],
)
SWITCH_THROTTLED = Counter(
    "kdial_switch_throttled_total",
    "Originates our own switch refused for its sessions-per-second: the worker slows down.",
    ["campaign"],
)
CPS_REFUNDED = Counter(
    "kdial_cps_refunded_total",
    "CPS grants given back to a trunk: the switch refused the originate before any channel.",
    ["trunk"],
)
GATEWAY_DIALABLE = Gauge(
    "kdial_gateway_dialable",
    "1 while the switch has the gateway, registered if it registers and up if it is pinged.",
    ["gateway"],
)
GATEWAY_RELOADS = Counter(
    "kdial_gateway_reloads_total", "Gateway generations applied to the switch."
)
