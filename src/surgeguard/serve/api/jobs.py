"""Jobs: the API's long questions (what-ifs, capacity plans, run-out dates) run in a worker
thread; ``POST`` returns the job's id at once, ``GET /api/v1/jobs/{id}`` its progress and, once
done, its result (or its one-line error).

>>> jobs = JobManager(workers=1)
>>> job = jobs.submit("runout", {"growth": 0.3}, lambda report: {"answer": 42})
>>> jobs.wait(job.id, timeout=5).status, jobs.get(job.id).result
('done', {'answer': 42})
>>> jobs.close()
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
import queue
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ...exceptions import SurgeguardError
from ...io.common import one_line

__all__ = ["JobManager", "JobRecord", "JobsFull"]


class JobsFull(SurgeguardError):
    """Too many jobs queued or running."""


@dataclass
class JobRecord:
    """One job: its state, progress (0..1 or None), message, result or error."""

    id: str
    kind: str
    request: dict
    status: str = "queued"
    progress: float | None = 0.0
    message: str = "queued"
    created: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    started: pd.Timestamp | None = None
    finished: pd.Timestamp | None = None
    result: dict | None = None
    error: dict | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def view(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": self.progress,
                "message": self.message, "created": self.created, "started": self.started, "finished": self.finished,
                "request": self.request, "result": self.result, "error": self.error}


class JobManager:
    """Runs jobs in ``workers`` threads (one by default: solver jobs do not share two cores well),
    at most ``max_active`` queued or running (more: :class:`JobsFull`), remembering the last
    ``keep`` jobs."""

    def __init__(self, *, workers: int = 1, max_active: int = 8, keep: int = 64):
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        # daemon threads: a long solve never keeps the process alive after the server stops
        self._workers = [threading.Thread(target=self._work, name=f"surgeguard-job-{k}", daemon=True)
                         for k in range(workers)]
        for t in self._workers:
            t.start()
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self.max_active, self.keep = max_active, keep

    def submit(self, kind: str, request: dict, fn: Callable[[Callable[[float | None, str], None]], dict]) -> JobRecord:
        """Queue ``fn(report)``; ``report(progress, message)`` updates the job while it runs."""
        with self._lock:
            active = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_active:
                raise JobsFull(f"{active} jobs are queued or running (the most at once is {self.max_active}); wait "
                               "for one to finish (GET /api/v1/jobs) and ask again")
            job = JobRecord(uuid.uuid4().hex, kind, dict(request))
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                old = next((k for k, j in self._jobs.items() if j.status in ("done", "failed")), None)
                if old is None:
                    break
                del self._jobs[old]
        self._queue.put((job, fn))
        return job

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, fn = item
            if self._closed:
                job.status, job.message, job.finished = "failed", "the server stopped before the job ran", \
                    pd.Timestamp.now(tz="UTC")
                job.error = {"error": "unavailable", "message": job.message, "field": None, "fix": "ask again"}
                job.done.set()
                continue
            self._run(job, fn)

    def _run(self, job: JobRecord, fn) -> None:
        def report(progress: float | None, message: str) -> None:
            job.progress = None if progress is None else float(min(max(progress, 0.0), 1.0))
            job.message = message

        job.status, job.started, job.message = "running", pd.Timestamp.now(tz="UTC"), "running"
        try:
            job.result = fn(report)
            job.status, job.progress, job.message = "done", 1.0, "done"
        except SurgeguardError as err:
            job.status, job.message = "failed", one_line(err)
            job.error = {"error": "invalid_input", "message": one_line(err), "field": None,
                         "fix": None}
        except Exception as err:  # noqa: BLE001 - a job's bug is reported in the job, not lost in a thread
            job.status, job.message = "failed", f"{type(err).__name__}: {one_line(err)}"
            job.error = {"error": "internal", "message": f"the job failed unexpectedly ({type(err).__name__}: "
                                                         f"{one_line(err)}); report it with the request",
                         "field": None, "fix": None}
        finally:
            job.finished = pd.Timestamp.now(tz="UTC")
            job.done.set()

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[JobRecord]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord | None:
        job = self.get(job_id)
        if job is not None:
            job.done.wait(timeout)
        return job

    def close(self) -> None:
        """Stop taking jobs; queued ones fail, a running one finishes in its (daemon) thread."""
        self._closed = True
        for _ in self._workers:
            self._queue.put(None)
