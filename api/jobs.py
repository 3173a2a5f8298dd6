"""Running jobs: one worker process each (from a preloaded forkserver), a bounded pool, time limits, dismissal."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.process import BaseProcess

from .logs import REQUEST_ID, log
from .store import JobStatus, Store, interrupted_error
from .worker import PRELOAD_ENV, WorkerConfig, run_job

__all__ = ["JobManager"]

_POLL_S = 0.02


def _noop() -> None:
    """Target of the warm-up process (starts the forkserver and its preload)."""


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the worker process was killed by signal {name}"
    return f"the worker process ended unexpectedly with exit code {code}"


class JobManager:
    """Run accepted jobs in worker processes, at most ``workers`` at once.

    Each job gets a fresh process forked from a forkserver that has imported siting and loaded
    the server-held study areas once, so a job starts in milliseconds and can be killed alone
    (time limit, dismissal) without touching the others. The event loop only polls.

    Parameters
    ----------
    store : Store
        Where jobs live.
    config : WorkerConfig
        Passed to every worker.
    workers : int
        Jobs running at once.
    timeout_s : float
        A job running longer is killed and marked failed.
    preload_networks : bool
        Whether the forkserver also loads the street networks.
    """

    def __init__(
        self, store: Store, config: WorkerConfig, *, workers: int, timeout_s: float, preload_networks: bool
    ) -> None:
        self.store = store
        self.config = config
        self.workers = workers
        self.timeout_s = timeout_s
        self.preload_networks = preload_networks
        self._ctx = mp.get_context("forkserver")
        self._sem: asyncio.Semaphore | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._procs: dict[str, BaseProcess] = {}
        self._warm: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Set up the forkserver preload and warm it up in the background."""
        self._sem = asyncio.Semaphore(self.workers)
        main = getattr(sys.modules["__main__"], "__file__", None)
        os.environ[PRELOAD_ENV] = json.dumps(
            {
                "areas": list(self.config.areas),
                "networks": self.preload_networks,
                "main_path": os.path.normpath(main) if main else None,
            }
        )
        self._ctx.set_forkserver_preload([f"{__package__}.preload"])
        self._warm = asyncio.create_task(asyncio.to_thread(self._warm_up))

    def _warm_up(self) -> None:
        proc = self._ctx.Process(target=_noop, daemon=True)
        proc.start()
        proc.join()

    def submit(self, job_id: str) -> None:
        """Queue an accepted job."""
        if job_id in self._tasks:
            return
        self._done[job_id] = asyncio.Event()
        self._tasks[job_id] = asyncio.create_task(self._run(job_id, REQUEST_ID.get()))

    async def wait(self, job_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a job of this server to end; True when it has ended."""
        event = self._done.get(job_id)
        if event is None:
            job = await asyncio.to_thread(self.store.get_job, job_id)
            return job is not None and job.status not in (JobStatus.ACCEPTED, JobStatus.RUNNING)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def worker_pid(self, job_id: str) -> int | None:
        """Process id of a running job's worker."""
        proc = self._procs.get(job_id)
        return proc.pid if proc is not None else None

    async def _run(self, job_id: str, request_id: str) -> None:
        assert self._sem is not None
        try:
            async with self._sem:
                job = await asyncio.to_thread(self.store.get_job, job_id)
                if job is None or job.status != JobStatus.ACCEPTED:
                    return
                proc = self._ctx.Process(
                    target=run_job,
                    args=(self.config, job_id, request_id),
                    daemon=True,
                    name=f"siting-job-{job_id[:8]}",
                )
                await asyncio.to_thread(proc.start)
                self._procs[job_id] = proc
                await self._supervise(job_id, proc)
        except Exception:
            log.exception("job supervision failed", extra={"job_id": job_id})
            await asyncio.to_thread(
                self.store.fail_job,
                job_id,
                interrupted_error("the server failed to run the job"),
                "server error",
            )
        finally:
            self._procs.pop(job_id, None)
            self._tasks.pop(job_id, None)
            event = self._done.pop(job_id, None)
            if event is not None:
                event.set()

    async def _supervise(self, job_id: str, proc: BaseProcess) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        timed_out = False
        while proc.is_alive():
            if loop.time() > deadline:
                proc.kill()
                timed_out = True
                break
            await asyncio.sleep(_POLL_S)
        await asyncio.to_thread(proc.join, 10)
        if timed_out:
            error = {
                "type": "job-timeout",
                "code": "job-timeout",
                "title": "job time limit",
                "status": 500,
                "detail": f"the job ran longer than the limit of {self.timeout_s:g} s and was stopped",
                "fix": "lower model.time_limit_s, or ask for fewer sites or a smaller area",
            }
            await asyncio.to_thread(self.store.fail_job, job_id, error, str(error["detail"]))
            log.warning("job timed out", extra={"job_id": job_id})
        elif proc.exitcode != 0:
            reason = _exit_reason(proc.exitcode)
            if await asyncio.to_thread(self.store.fail_job, job_id, interrupted_error(reason), reason):
                log.error("worker died", extra={"job_id": job_id, "exitcode": proc.exitcode})
        else:
            job = await asyncio.to_thread(self.store.get_job, job_id)
            if job is not None and job.status in (JobStatus.ACCEPTED, JobStatus.RUNNING):
                await asyncio.to_thread(
                    self.store.fail_job,
                    job_id,
                    interrupted_error("the worker ended without a result"),
                    "no result",
                )

    def kill(self, job_id: str) -> None:
        """Stop a job's worker, if it runs (dismissal)."""
        proc = self._procs.get(job_id)
        if proc is not None and proc.is_alive():
            proc.kill()

    async def stop(self) -> None:
        """Kill running workers and mark their jobs failed (graceful shutdown); queued ones too."""
        for job_id in list(self._procs):
            self.kill(job_id)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._warm is not None:
            await asyncio.gather(self._warm, return_exceptions=True)
        reason = "the server stopped before the job finished; submit it again"
        await asyncio.to_thread(self.store.fail_interrupted, reason)
