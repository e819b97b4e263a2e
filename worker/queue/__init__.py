"""The job queue: the only code that touches ``public.jobs``.

Guarantees (the queue is at-least-once; effects are exactly-once when handlers write
through :meth:`worker.queue.context.JobContext.complete`):

* A job is claimed by one worker at a time (``for update skip locked``), under a lease
  that the worker extends while the job runs (heartbeat).
* A handler's writes and the job's completion commit in one transaction, and that
  transaction only commits while the worker still holds the attempt's lease. A worker
  killed at any instant therefore leaves either no effect (its transaction is rolled
  back by the server when its connection drops) or the complete effect with the job
  marked succeeded.
* A job whose worker died stays ``running`` until its lease expires; then any worker's
  rescue puts it back in the queue (or fails it, if that was its last attempt), and it
  runs again.
* A job that fails is retried with exponential backoff and jitter, then kept as
  ``failed`` with its error; nothing is ever deleted except succeeded or cancelled jobs
  older than ``retention_finished_jobs_days`` (30 by default; housekeeping).
"""

from worker.queue.jobs import Job, JobSpec, JobStatus
from worker.queue.retry import PermanentError, RetryableError, RetryPolicy

__all__ = ["Job", "JobSpec", "JobStatus", "PermanentError", "RetryPolicy", "RetryableError"]
