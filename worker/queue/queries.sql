-- Every statement that touches public.jobs. Python calls them by name
-- (worker/queue/manager.py); nothing else in the worker writes SQL against the queue.
--
-- A claimed attempt is identified by (lease_owner, attempts): every statement that
-- ends or extends an attempt checks both, so a worker whose lease expired and whose
-- job was rescued and claimed again can no longer finish, retry or fail it.

-- name: enqueue_jobs
-- Batch, idempotent: a job whose dedupe_key matches an unfinished job is skipped.
-- One statement, so the insert trigger sends one notification for the whole batch.
insert into public.jobs (kind, user_id, payload, priority, run_at, max_attempts, dedupe_key)
select kind, user_id, payload, priority, coalesce(run_at, now()), max_attempts, dedupe_key
  from unnest(
    %(kinds)s::text[], %(user_ids)s::uuid[], %(payloads)s::jsonb[], %(priorities)s::smallint[],
    %(run_ats)s::timestamptz[], %(max_attempts)s::integer[], %(dedupe_keys)s::text[]
  ) as t (kind, user_id, payload, priority, run_at, max_attempts, dedupe_key)
on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
returning id;

-- name: claim_jobs
-- Up to {limit} due jobs, most urgent first, skipping rows other workers hold. The queue
-- has one "next job" index, jobs_next_by_kind_idx (kind, priority desc, run_at, id) over
-- queued rows: the kinds that have queued jobs are found by skipping through it (one
-- probe per kind, a handful), each kind's range is walked in claim order locking up to
-- {limit} of its jobs, and the heads are merged and cut to {limit}, so the result is
-- exactly the global claim order. (A second index in global order made every job insert
-- dearer, 20261201110300_one_next_job_index.sql.) Jobs of every kind
-- are claimed, those no handler knows included (the worker fails them). Rows a kind
-- locked beyond the merged {limit} stay locked only until the claim's transaction ends
-- (the worker claims in autocommit). %(kinds)s, when not null, keeps only those kinds
-- (a worker limited to some kinds sends claim_jobs_of_kinds, which skips the search).
-- The limit is written into the statement (manager.claim_jobs formats it): as a bind
-- parameter it kept PostgreSQL from ever settling on a plan. The worker writes the owner,
-- the lease and the kinds in as well (manager.bound_claim): each of its claims is then one
-- prepared statement with nothing to bind, planned once per connection.
with recursive queued_kinds(kind) as (
  (select q.kind from public.jobs q where q.status = 'queued' order by q.kind limit 1)
  union all
  select (select q.kind from public.jobs q
           where q.status = 'queued' and q.kind > k.kind
           order by q.kind limit 1)
    from queued_kinds k
   where k.kind is not null
),
next as (
  select c.id
    from queued_kinds k
   cross join lateral (
     select q.id, q.priority, q.run_at
       from public.jobs q
      where q.status = 'queued'
        and q.kind = k.kind
        and q.run_at <= now()
      order by q.priority desc, q.run_at, q.id
      limit {limit}
        for update skip locked
   ) c
   where k.kind is not null
     and (%(kinds)s::text[] is null or k.kind = any (%(kinds)s::text[]))
   order by c.priority desc, c.run_at, c.id
   limit {limit}
)
update public.jobs j
   set status = 'running',
       attempts = j.attempts + 1,
       lease_owner = %(owner)s,
       lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
       updated_at = now()
  from next
 where j.id = next.id
returning j.id, j.kind, j.user_id, j.payload::text, j.priority, j.attempts, j.max_attempts,
          j.run_at;

-- name: claim_jobs_of_kinds
-- The same for a worker limited to some kinds. Each asked kind walks its own range of
-- jobs_next_by_kind_idx (kind, priority desc, run_at, id), locking up to {limit} of its
-- own jobs, and the heads are merged in claim order, so jobs of other kinds are never
-- read, however many wait. Rows a kind locked beyond the merged {limit} stay locked only
-- until the claim's transaction ends (the worker claims in autocommit). Kinds must be
-- distinct (manager.claim_jobs makes them so).
with next as (
  select c.id
    from unnest(%(kinds)s::text[]) as k (kind)
   cross join lateral (
     select q.id, q.priority, q.run_at
       from public.jobs q
      where q.status = 'queued'
        and q.kind = k.kind
        and q.run_at <= now()
      order by q.priority desc, q.run_at, q.id
      limit {limit}
        for update skip locked
   ) c
   order by c.priority desc, c.run_at, c.id
   limit {limit}
)
update public.jobs j
   set status = 'running',
       attempts = j.attempts + 1,
       lease_owner = %(owner)s,
       lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
       updated_at = now()
  from next
 where j.id = next.id
returning j.id, j.kind, j.user_id, j.payload::text, j.priority, j.attempts, j.max_attempts,
          j.run_at;

-- name: extend_leases
-- Heartbeat for long jobs. Returns the ids whose lease another worker now holds (or a
-- rescue took away): a job that merely finished meanwhile is not lost.
with extended as (
  update public.jobs
     set lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
         updated_at = now()
   where id = any (%(ids)s::bigint[])
     and lease_owner = %(owner)s
     and status = 'running'
  returning id
)
select j.id
  from public.jobs j
 where j.id = any (%(ids)s::bigint[])
   and j.id not in (select id from extended)
   and (
     (j.status = 'running' and j.lease_owner is distinct from %(owner)s)
     or (j.status in ('queued', 'failed') and j.last_error like 'worker lost:%%')
   );

-- name: finish_job
-- Runs inside the handler's own transaction: its writes and this commit together. The
-- update is proxima_private.finish_job_in_statement's, which a one-statement handler calls
-- itself; a lost lease raises SQLSTATE PXL01.
select proxima_private.finish_job_in_statement(%(id)s, %(owner)s, %(attempt)s);

-- name: finish_jobs
-- Batched completion for handlers that wrote nothing of their own. Each job is found by its
-- primary key (id = any) and its attempt read from %(attempts)s, a jsonb object of id (as
-- text) to attempt: no join, so no plan can pair every job of the batch with every id.
-- (Joined with unnest(ids, attempts), the statement was planned as a nested loop over a
-- sequential scan of the queue whenever the statistics showed no running job, as they do
-- after a large enqueue's analyze: n squared comparisons a batch.)
update public.jobs j
   set status = 'succeeded',
       finished_at = now(),
       updated_at = now(),
       lease_expires_at = null,
       last_error = null
 where j.id = any(%(ids)s::bigint[])
   and j.attempts = (%(attempts)s::jsonb ->> j.id::text)::integer
   and j.lease_owner = %(owner)s
   -- "is true" means the same here (status is not null) but keeps the planner off the
   -- partial lease index, whose dead entries made batch completion scan thousands of
   -- rows; each id is found by its primary key instead.
   and (j.status = 'running') is true
returning j.id;

-- name: retry_job
update public.jobs
   set status = 'queued',
       run_at = now() + make_interval(secs => %(delay_seconds)s),
       last_error = %(error)s,
       lease_owner = null,
       lease_expires_at = null,
       updated_at = now()
 where id = %(id)s
   and lease_owner = %(owner)s
   and attempts = %(attempt)s
   and status = 'running'
returning id;

-- name: fail_job
-- For good: the row and its error are kept; `retry-failed` puts it back.
update public.jobs
   set status = 'failed',
       last_error = %(error)s,
       finished_at = now(),
       lease_expires_at = null,
       updated_at = now()
 where id = %(id)s
   and lease_owner = %(owner)s
   and attempts = %(attempt)s
   and status = 'running'
returning id;

-- name: release_jobs
-- Graceful shutdown: hand unfinished jobs back at once; the attempt does not count.
update public.jobs
   set status = 'queued',
       attempts = greatest(attempts - 1, 0),
       lease_owner = null,
       lease_expires_at = null,
       updated_at = now()
 where id = any (%(ids)s::bigint[])
   and lease_owner = %(owner)s
   and status = 'running'
returning id;

-- name: rescue_expired_jobs
-- Jobs whose worker died: queued again, or failed when that was the last attempt. The
-- error names no worker (host and pid stay in the operator's logs): it can reach the
-- person through export_history.error. Nothing is rescued within %(grace_seconds)s of
-- the server's start: leases that ran out while it was down belong to workers that are
-- renewing them now. A job's last attempt is its row's max_attempts, or, for a row left at
-- the column's default (%(default_attempts)s), its kind's attempt policy in %(limits)s
-- ({"kind": attempts}), as the worker judges a failure (worker.runtime.worker.attempt_limit).
with expired as (
  select id,
         case
           when max_attempts = %(default_attempts)s
             then coalesce((%(limits)s::jsonb ->> kind)::integer, max_attempts)
           else max_attempts
         end as last_attempt
    from public.jobs
   where status = 'running'
     and lease_expires_at < now()
     and pg_catalog.pg_postmaster_start_time() < now() - make_interval(secs => %(grace_seconds)s)
   order by lease_expires_at
   limit %(limit)s
     for update skip locked
)
update public.jobs j
   set status = case when j.attempts >= expired.last_attempt then 'failed' else 'queued' end,
       last_error = 'worker lost: the lease expired during attempt ' || j.attempts,
       finished_at = case when j.attempts >= expired.last_attempt then now() end,
       -- run_at is kept: a rescued job goes back to its place in the queue, not behind
       -- the backlog that arrived while its worker was dying.
       lease_owner = null,
       lease_expires_at = null,
       updated_at = now()
  from expired
 where j.id = expired.id
returning j.id, j.kind, j.status;

-- name: cancel_jobs
-- Only queued jobs can be cancelled; a running job finishes its attempt.
update public.jobs
   set status = 'cancelled',
       finished_at = now(),
       updated_at = now()
 where status = 'queued'
   and (id = any (%(ids)s::bigint[]) or (%(kind)s::text is not null and kind = %(kind)s::text))
returning id;

-- name: wait_for_weekly_enqueue
-- The weekly enqueue's own lock, held to the end of the transaction: retry-failed takes it
-- before reviving, so a revived weekly job and the job the enqueue adds again for a
-- failed person-week never race (whichever statement runs second sees the other's job).
select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('public.enqueue_weekly_analysis'));

-- name: retry_failed_jobs
-- Failed jobs back to the queue with a fresh attempt count, unless an unfinished job
-- with the same dedupe key has taken their place meanwhile. At most one job per key is
-- revived, the newest: a person-week whose job failed, was enqueued once more and failed
-- again has two failed jobs with one key, and reviving both would break
-- jobs_dedupe_unfinished_idx and so the whole statement, for everyone. Keyless jobs are
-- all revived.
with candidates as (
  select j.id, j.dedupe_key
    from public.jobs j
   where j.status = 'failed'
     and (%(kind)s::text is null or j.kind = %(kind)s::text)
     and (%(ids)s::bigint[] is null or j.id = any (%(ids)s::bigint[]))
     and not exists (
       select 1 from public.jobs o
        where o.dedupe_key = j.dedupe_key and o.status in ('queued', 'running')
     )
     -- nor one whose key a later job has done since (the week re-enqueued and stored).
     and not exists (
       select 1 from public.jobs o
        where o.dedupe_key = j.dedupe_key and o.status = 'succeeded' and o.id > j.id
     )
),
chosen as (
  select c.id from candidates c where c.dedupe_key is null
  union all
  (select distinct on (c.dedupe_key) c.id
     from candidates c
    where c.dedupe_key is not null
    order by c.dedupe_key, c.id desc)
),
revived as (
  update public.jobs j
     set status = 'queued',
         attempts = 0,
         run_at = now(),
         finished_at = null,
         updated_at = now()
    from chosen
   where j.id = chosen.id
     and j.status = 'failed'
  returning j.id, j.kind
)
select id, pg_notify('proxima_jobs', kind) is not null from revived;

-- name: queue_depth
select kind,
       status,
       count(*)::bigint as jobs,
       extract(epoch from now() - min(run_at) filter (where status = 'queued' and run_at <= now()))
         as oldest_due_seconds
  from public.jobs
 group by kind, status
 order by kind, status;

-- name: recent_failures
select id, kind, attempts, max_attempts, last_error, updated_at
  from public.jobs
 where status = 'failed'
 order by updated_at desc
 limit %(limit)s;

-- name: get_job
select id, kind, user_id, payload, priority, status, attempts, max_attempts, run_at,
       lease_owner, lease_expires_at, last_error, created_at, finished_at
  from public.jobs
 where id = %(id)s;

-- name: listen_jobs
listen proxima_jobs;

-- name: enqueue_weekly_analysis
-- The same function pg_cron calls on Mondays; idempotent per user-week.
select public.enqueue_weekly_analysis(%(week_of)s::date);

-- name: run_housekeeping
select public.run_housekeeping();

-- name: pg_cron_installed
select exists (select 1 from pg_extension where extname = 'pg_cron');
