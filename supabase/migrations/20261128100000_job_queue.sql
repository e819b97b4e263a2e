-- The job queue: every piece of background work (weekly analyses, refreshes, PDF
-- exports, share e-mails, housekeeping) is a row here, claimed by worker processes
-- with `for update skip locked`. Only the worker touches it (through the named
-- queries in worker/queue/queries.sql); people see nothing of it.

create table if not exists public.jobs (
  id bigint generated always as identity primary key,
  kind text not null check (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
  user_id uuid references auth.users (id) on delete cascade,
  payload jsonb not null default '{}' check (jsonb_typeof(payload) = 'object'),
  -- Higher runs first: a person waiting on a refresh goes ahead of the Monday batch.
  priority smallint not null default 0 check (priority between -100 and 100),
  run_at timestamptz not null default now(),
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  -- At most one unfinished job per key (e.g. one export per export id). Callers that
  -- want "once ever", like the weekly enqueue, also check finished jobs themselves.
  dedupe_key text,
  lease_owner text,
  lease_expires_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint jobs_running_has_lease check (
    status <> 'running' or (lease_owner is not null and lease_expires_at is not null)
  ),
  constraint jobs_finished_has_time check (
    (status in ('succeeded', 'failed', 'cancelled')) = (finished_at is not null)
  )
);

-- A queue table churns: vacuum it early so dead index entries do not pile up at the
-- head of the "next job" index and slow every claim down over a long run.
alter table public.jobs set (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 500,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 0,
  fillfactor = 80
);

-- "Next job": an index scan over queued rows only, in claim order.
create index if not exists jobs_next_idx
  on public.jobs (priority desc, run_at, id)
  where status = 'queued';

-- Rescue: running jobs by lease expiry.
create index if not exists jobs_lease_idx
  on public.jobs (lease_expires_at)
  where status = 'running';

create unique index if not exists jobs_dedupe_unfinished_idx
  on public.jobs (dedupe_key)
  where dedupe_key is not null and status in ('queued', 'running');

create index if not exists jobs_user_idx on public.jobs (user_id);
create index if not exists jobs_finished_idx on public.jobs (finished_at) where finished_at is not null;
create index if not exists jobs_failed_idx on public.jobs (kind, updated_at desc) where status = 'failed';

-- One notification per inserting statement (not per row): a batch of 100,000 weekly
-- jobs wakes the workers once. The payload lists the kinds inserted.
create or replace function public.notify_jobs_inserted()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  kinds text;
begin
  select string_agg(distinct kind, ',') into kinds from inserted_jobs;
  if kinds is not null then
    perform pg_notify('proxima_jobs', kinds);
  end if;
  return null;
end
$$;

drop trigger if exists jobs_notify_inserted on public.jobs;
create trigger jobs_notify_inserted
  after insert on public.jobs
  referencing new table as inserted_jobs
  for each statement execute function public.notify_jobs_inserted();

alter table public.jobs enable row level security;
revoke all on public.jobs from anon, authenticated;
grant all on public.jobs to service_role;
revoke execute on function public.notify_jobs_inserted() from public, anon, authenticated;
