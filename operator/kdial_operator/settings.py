"""Operator settings: environment variables with the `KDIAL_` prefix, one documented field each."""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kdial.routing import health
from kdial_operator.manifests import ResourceRequirements, Toleration
from kdial_operator.source_policy import IPNetwork


def _dialer_resources() -> ResourceRequirements:
    return {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


def _freeswitch_resources() -> ResourceRequirements:
    return {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}


class OperatorSettings(BaseSettings):
    """What the operator needs from its environment (the Helm chart sets these)."""

    model_config = SettingsConfigDict(env_prefix="KDIAL_", use_attribute_docstrings=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis the data plane lives in. Its password, if any, belongs in the URL, which the chart
    takes from a Secret."""
    redis_url_secret: str | None = None
    """Secret (key `url`) from which worker pods read the Redis URL; when unset they get
    `redis_url` in plain text."""
    status_interval_seconds: float = Field(default=5.0, gt=0)
    """How often each campaign's status is aggregated from Redis and its workers rescaled."""
    health_interval_seconds: float = Field(default=health.EVALUATION_SECONDS, gt=0)
    """How often each TrunkPool's line counters are read and its trunks judged; a new routing
    generation reaches workers within a second after that. The detectors' thresholds are
    calibrated for the default: longer costs detection time, shorter raises false ejections."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of the operator's Prometheus `/metrics` (trunk states and weights); unset, none."""
    retry_seconds: float = Field(default=10.0, gt=0)
    """Delay before retrying an object that waits on something missing (a ConfigMap, Redis)."""
    calls_per_worker: int = Field(default=100, ge=1)
    """Concurrent calls one worker and its FreeSWITCH carry; sets how many workers a campaign
    needs."""
    worker_image: str = "ghcr.io/kdial/kdial:0.1.0"
    """Image of the dialer container (runs `kdial worker`)."""
    freeswitch_image: str = "ghcr.io/kdial/freeswitch:1.10"
    """Image of the FreeSWITCH container beside each dialer."""
    esl_port: int = 8021
    """Event Socket port FreeSWITCH listens on inside the worker pod (loopback only)."""
    esl_password_secret: str = "kdial-esl"  # noqa: S105 (the Secret's name, not a password)
    """Secret (key `password`) holding the Event Socket password of worker pods."""
    worker_grace_seconds: int = Field(default=120, ge=1)
    """terminationGracePeriodSeconds of worker pods: how long calls in flight may finish on
    scale-down or pause."""
    worker_service_account: str | None = None
    """ServiceAccount of worker pods; they need no Kubernetes API access."""
    dialer_resources: ResourceRequirements = Field(default_factory=_dialer_resources)
    """Resources of the dialer container (JSON, as a container's `resources`)."""
    freeswitch_resources: ResourceRequirements = Field(default_factory=_freeswitch_resources)
    """Resources of the FreeSWITCH container (JSON, as a container's `resources`)."""
    worker_host_network: bool = False
    """Run worker pods on the host network, so carriers reach FreeSWITCH's SIP and RTP ports
    directly; each node then holds one worker per port range."""
    sip_port: int = Field(default=5060, ge=1, le=65535)
    """SIP port FreeSWITCH listens on (its container gets it as `SIP_PORT`)."""
    rtp_port_start: int = Field(default=16384, ge=1024, le=65535)
    """First RTP port of FreeSWITCH (`RTP_PORT_START`)."""
    rtp_port_end: int = Field(default=32768, ge=1024, le=65535)
    """Last RTP port of FreeSWITCH (`RTP_PORT_END`)."""
    sessions_per_second: int = Field(default=30, ge=1)
    """FreeSWITCH's `sessions-per-second` (`SESSIONS_PER_SECOND`): new legs per second the
    switch accepts, inbound and bridged ones included; over it an originate is refused and the
    worker slows down."""
    worker_node_selector: dict[str, str] = Field(default_factory=dict)
    """Node selector of worker pods (JSON), e.g. a node pool for voice."""
    worker_tolerations: list[Toleration] = Field(default_factory=list)
    """Tolerations of worker pods (JSON list)."""
    max_concurrent_imports: int = Field(default=2, ge=1, le=64)
    """Contact-list imports running at once, across all lists; the others wait (`Importing`,
    reason Queued). Each holds one CPU and, at its peak, a couple of hundred MB (README,
    "Benchmarks"), so a restart that finds fifty changed lists imports them a few at a time."""
    max_download_bytes: int = Field(default=2 << 30, ge=1)
    """Largest contact list an HTTP(S) source may serve, in bytes (after any gzip is undone);
    a larger one fails its import with reason SourceTooLarge. 2 GiB by default: about 20
    million rows of a typical 8-field CSV."""
    source_allowed_networks: list[IPNetwork] = Field(default_factory=list)
    """Networks (CIDR, JSON list) a ContactList URL may be fetched from although they are
    internal (loopback, link-local, private, the cluster's), and from which plain http is
    fetched too. Empty: lists come only over https from public addresses. The most specific
    network decides, so a wide entry does not open the narrower `cluster_networks` inside it."""
    cluster_networks: list[IPNetwork] = Field(
        default_factory=lambda: [ipaddress.ip_network("10.96.0.0/12")]
    )
    """The cluster's Service (and pod) ranges (CIDR, JSON list): refused as ContactList sources
    unless a network inside them is allow-listed. kubeadm's default Service range by default."""

    @model_validator(mode="after")
    def _rtp_range(self) -> Self:
        if self.rtp_port_end < self.rtp_port_start:
            raise ValueError(
                f"KDIAL_RTP_PORT_END ({self.rtp_port_end}) is below KDIAL_RTP_PORT_START "
                f"({self.rtp_port_start})"
            )
        return self
