"""Worker settings: `KDIAL_*` environment variables (the operator's Deployment sets them)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerSettings(BaseSettings):
    """What a worker needs from its environment."""

    model_config = SettingsConfigDict(env_prefix="KDIAL_", use_attribute_docstrings=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis the data plane lives in."""
    esl_host: str = "127.0.0.1"
    """FreeSWITCH Event Socket host (the switch beside the worker)."""
    esl_port: int = 8021
    """FreeSWITCH Event Socket port."""
    esl_password: str = Field(default="ClueCon", repr=False)
    """Event Socket password (from a Secret in a cluster)."""
    metrics_port: int = 9100
    """Port of /metrics, /healthz and /readyz."""
    drain_seconds: float = Field(default=110.0, ge=0)
    """On SIGTERM: how long calls in flight may run before they are hung up."""
    lease_seconds: float = Field(default=15.0, gt=1)
    """Lease on each claimed contact; renewed while the call lasts, reclaimed if the worker
    dies. Leases run on Redis's clock. A worker places no call on a lease it has not renewed
    within nine tenths of it (`kdial_worker.lease`)."""
    reclaim_delay_seconds: float = Field(default=300.0, ge=0)
    """A contact whose worker died is due again only after this, so that a call still alive on
    an orphaned switch has ended first: a worker cut off from Redis hangs up its calls before
    their contacts are due again (so an outage shorter than this drops no call), and a frozen
    worker's liveness probe has it restarted (which hangs up what it left) within about 30 s."""
    preview_timeout_seconds: float = Field(default=120.0, gt=0, le=150)
    """Preview mode: a record an agent has neither dialled nor skipped this long after they
    previewed it is skipped for them (due again, no attempt counted; they are Ready again).
    At most half the preview lease (`kdial.state.preview.PREVIEW_LEASE_MS`)."""
    max_calls: int = Field(default=100, ge=1)
    """Most calls this worker and its switch carry at once."""
    gateways_dir: Path | None = None
    """Where the pools' compiled sofia gateways are mounted (`<pool>.xml`, `<pool>.generation`);
    without it the switch's gateways are watched but never reloaded."""
    worker_id: str = Field(default_factory=_default_id)
    """Names this worker in logs and records (the pod name in a cluster)."""
