"""A contact list import as a child process of the operator: why, and the protocol.

Why a process, not a task or a thread: an import is CPU-bound Python (decoding, CSV, phone
number parsing) for about a minute per million rows. In the operator's process it would hold
the GIL against the event loop that serves every other object's handlers, and its memory
(mostly phonenumbers' geocoder tables) would stay with the operator for good. As a child it
runs on the other core, its memory is its own and returns to the system when it exits,
cancelling it is a signal (a thread cannot be cancelled), and a hostile file that somehow
blows it up takes down nothing else. The cost is a process start-up per import. The figures
are in the README ("Benchmarks").

The protocol is JSON both ways. The operator writes one `Job` document to the child's stdin
(credentials travel there, never in argv or the environment, which other processes can read)
and reads JSON lines from its stdout: `{"progress": {...}}` now and then, and one final
`{"done": {...}}` or `{"failed": {...}}`. The child speaks to Redis itself, writing a staging
generation that it swaps in at the end (see `contact_store`).

The child runs `python -m kdial_operator.contact_job`: the package imports nothing by itself
(kopf's handlers live in `kdial_operator.handlers`), so only the import's own modules load and
its peak memory is the import's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import resource
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import redis
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kdial.api.contactlist import ContactListSpec, Encoding, RejectedRow, RowTags, TagCount
from kdial.privacy import mask_text
from kdial.state.keys import ListKeys
from kdial_operator import contact_pipeline, contact_sources
from kdial_operator.contact_pipeline import Outcome
from kdial_operator.contact_reader import SourceError
from kdial_operator.source_policy import SourcePolicy

#: Seconds the child gets to remove its staging keys when cancelled, before it is killed.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Job:
    """What the child needs to import one list. Exactly one of `text` (a ConfigMap's `data`
    value), `data` (a ConfigMap's `binaryData` value, decoded from base64) and `url`."""

    namespace: str
    name: str
    spec: ContactListSpec
    redis_url: str
    text: str | None = None
    data: bytes | None = None
    url: str | None = None
    authorization: str | None = None
    progress_seconds: float = 1.0
    #: Bytes a URL source may have at most (`KDIAL_MAX_DOWNLOAD_BYTES`); None for no limit.
    max_bytes: int | None = None
    #: Which addresses a URL source may be fetched from; by default public ones over https.
    policy: SourcePolicy = field(default_factory=SourcePolicy)

    def to_json(self) -> str:
        return json.dumps(
            {
                "namespace": self.namespace,
                "name": self.name,
                "spec": self.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                "redisUrl": self.redis_url,
                "text": self.text,
                "data": None if self.data is None else base64.b64encode(self.data).decode(),
                "url": self.url,
                "authorization": self.authorization,
                "progressSeconds": self.progress_seconds,
                "maxBytes": self.max_bytes,
                "allowedNetworks": [str(n) for n in self.policy.allowed],
                "clusterNetworks": [str(n) for n in self.policy.cluster],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Job:
        doc = json.loads(text)
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            spec=ContactListSpec.model_validate(doc["spec"]),
            redis_url=doc["redisUrl"],
            text=doc.get("text"),
            data=None if doc.get("data") is None else base64.b64decode(doc["data"]),
            url=doc.get("url"),
            authorization=doc.get("authorization"),
            progress_seconds=float(doc.get("progressSeconds", 1.0)),
            max_bytes=doc.get("maxBytes"),
            policy=SourcePolicy.of(doc.get("allowedNetworks", ()), doc.get("clusterNetworks", ())),
        )


class Result(BaseModel):
    """How an import ended: the child's last word, `done` or `failed` (which is `ok`). `version`
    0 with `ok` means the source was unchanged."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ok: bool = Field(default=False, exclude=True)
    counts: dict[str, int] = Field(default_factory=dict)
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    first_rejected: list[RejectedRow] = Field(default_factory=list)
    row_tags: RowTags | None = None
    """`status.rowTags`; None when the list has no `tagsField`."""
    bytes_read: int = 0
    version: int = 0
    peak_rss_mb: float = 0.0
    """The child's peak resident memory (MB): what an import of this list costs."""
    reason: str = ""
    message: str = ""
    transient: bool = False


class Line(BaseModel):
    """One line the child writes: progress now and then, and one `done` or `failed`."""

    progress: dict[str, int] | None = None
    done: Result | None = None
    failed: Result | None = None


OnProgress = Callable[[dict[str, int]], Awaitable[None]]


# --- the operator's side --------------------------------------------------------------------


async def run(job: Job, on_progress: OnProgress | None = None) -> Result:
    """Runs the import in a child process and waits for it; cancelling this stops the child
    (its staging keys removed, the live list untouched)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kdial_operator.contact_job",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(job.to_json().encode())
        await proc.stdin.drain()
        proc.stdin.close()
        result: Result | None = None
        while raw := await proc.stdout.readline():
            line = Line.model_validate_json(raw)
            if line.progress is not None and on_progress is not None:
                await on_progress(line.progress)
            elif line.done is not None:
                result = line.done.model_copy(update={"ok": True})
            elif line.failed is not None:
                result = line.failed
        code = await proc.wait()
    except BaseException:
        await _stop(proc)
        raise
    if result is None:
        return Result(
            ok=False,
            reason="ImportCrashed",
            message=f"the import process ended with exit code {code} before finishing",
            transient=True,
        )
    return result


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


# --- the child's side -----------------------------------------------------------------------


def child_main() -> int:
    """Entry point of the import process: one Job on stdin, JSON lines on stdout."""
    # SIGTERM (a cancelled import) unwinds like an exception, so the pipeline removes its
    # staging keys on the way out.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    job = Job.from_json(sys.stdin.read())
    rdb = redis.Redis.from_url(job.redis_url, decode_responses=True)
    outcome = Outcome()
    try:
        execute(job, rdb, lambda o: _say(Line(progress=progress_of(o))), outcome)
    except SourceError as error:
        _say(Line(failed=_failure(error.reason, error.message, error.transient, outcome)))
    except redis.RedisError as error:
        message = f"Redis: {type(error).__name__}: {error}"
        _say(Line(failed=_failure("RedisUnavailable", message, True, outcome)))
    except Exception as error:
        # A bug. The traceback goes to the operator's log, masked: rows may be in it.
        sys.stderr.write(mask_text(traceback.format_exc()))
        message = f"the import failed unexpectedly ({type(error).__name__}); see operator logs"
        _say(Line(failed=_failure("InternalError", message, False, outcome)))
    else:
        _say(Line(done=summary(outcome)))
    finally:
        rdb.close()
    return 0


def execute(
    job: Job,
    rdb: redis.Redis,
    progress: contact_pipeline.Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """The import itself, in whichever process calls it (the child, the bench, tests)."""
    chunks: Iterator[bytes]
    encoding: Encoding | None = None
    if job.url is not None:
        chunks = contact_sources.url_chunks(job.url, job.authorization, job.max_bytes, job.policy)
    elif job.data is not None:
        # binaryData holds the file's own bytes: read in the list's encoding (e.g. GB18030).
        chunks = contact_sources.value_chunks(job.data)
    else:
        # The API server hands a ConfigMap `data` value over as text: it is UTF-8 by now.
        chunks, encoding = contact_sources.text_chunks(job.text or ""), Encoding.UTF8
    return contact_pipeline.load(
        chunks,
        job.spec,
        rdb,
        ListKeys(job.namespace, job.name),
        encoding=encoding,
        progress=progress,
        progress_seconds=job.progress_seconds,
        outcome=outcome,
    )


def progress_of(outcome: Outcome) -> dict[str, int]:
    return outcome.tally.as_dict() | {"bytesRead": outcome.bytes_read}


def summary(outcome: Outcome) -> Result:
    tally = outcome.tally
    row_tags = None
    if tally.tagged is not None:
        # `kdial.tags` let no number-like tag in, so mask_text leaves every tag as it is: it
        # is a second lock, for the day a bug lets one through.
        top = [TagCount(tag=mask_text(tag), contacts=n) for tag, n in outcome.top_tags]
        row_tags = RowTags(distinct=outcome.distinct_tags, top=top)
    return Result(
        counts=tally.as_dict(),
        rejected_by_reason=dict(tally.rejected),
        first_rejected=[RejectedRow.model_validate(r) for r in tally.first_rejected],
        row_tags=row_tags,
        bytes_read=outcome.bytes_read,
        version=outcome.version,
        peak_rss_mb=peak_rss_mb(),
    )


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _failure(reason: str, message: str, transient: bool, outcome: Outcome) -> Result:
    return summary(outcome).model_copy(
        update={"reason": reason, "message": message, "transient": transient}
    )


def _say(line: Line) -> None:
    sys.stdout.write(line.model_dump_json(by_alias=True, exclude_none=True) + "\n")
    sys.stdout.flush()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(child_main())
