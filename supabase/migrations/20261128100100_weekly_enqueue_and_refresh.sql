-- How analysis work gets onto the queue: the Monday batch (one job per active person
-- and week, however often it is triggered), the person's own "refresh my analysis"
-- button (ten a week, counted atomically), and the housekeeping that keeps the queue
-- and pg_cron's run history from growing without bound.
--
-- A person's week is the Monday-to-Sunday week of their own time zone: someone in
-- Honolulu is still in last week while Tokyo has started the next one.

-- The Monday (a date, in the person's profile time zone, UTC without a profile) of the
-- week that contains p_at. Invoker: a person calling it sees only their own profile.
create or replace function public.user_week_of(p_user_id uuid, p_at timestamptz default now())
returns date
language sql
stable
security invoker
set search_path = ''
as $$
  select date_trunc(
    'week',
    p_at at time zone coalesce(
      (select p.timezone from public.profiles p where p.user_id = p_user_id),
      'UTC'
    )
  )::date
$$;

revoke execute on function public.user_week_of(uuid, timestamptz) from public, anon;
grant execute on function public.user_week_of(uuid, timestamptz) to authenticated, service_role;

-- "Was this person's week ever enqueued, in any status?" is an index lookup; the unique
-- index on unfinished jobs cannot answer it once the job has finished.
create index if not exists jobs_dedupe_key_idx
  on public.jobs (dedupe_key)
  where dedupe_key is not null;

-- One weekly_analysis job per person active in the last 28 days, for week_of (a Monday)
-- or, when null, for each person's current week in their own time zone. Returns the
-- number of jobs inserted. Idempotent: a person-week that was ever enqueued, finished or
-- not, is not enqueued again.
create or replace function public.enqueue_weekly_analysis(week_of date default null)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  since timestamptz := now() - interval '28 days';
  inserted integer;
begin
  if enqueue_weekly_analysis.week_of is not null
     and extract(isodow from enqueue_weekly_analysis.week_of) <> 1 then
    raise exception 'week_of must be a Monday; % is a %',
      to_char(enqueue_weekly_analysis.week_of, 'YYYY-MM-DD'),
      to_char(enqueue_weekly_analysis.week_of, 'FMDay')
      using errcode = '22023';
  end if;

  -- Concurrent calls take turns, so each one's insert sees the jobs of the one before
  -- it even if those have already finished (the unique index covers only unfinished).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('public.enqueue_weekly_analysis'));

  -- One statement, so the jobs' NOTIFY trigger wakes the workers once for the batch.
  with active(user_id) as (
    select s.user_id from public.health_stories s where s.created_at >= since
    union
    select n.user_id from public.story_notes n where n.created_at >= since
    union
    select q.user_id from public.quick_scans q where q.created_at >= since
    union
    select t.user_id from public.symptom_tracking t
    where t.occurrence_date >= (since at time zone 'UTC')::date
    union
    select d.user_id from public.deep_dive_sessions d where d.created_at >= since
    union
    select c.user_id from public.conversations c where c.created_at >= since
    union
    select m.user_id from public.messages m where m.created_at >= since
  ),
  wanted as (
    select a.user_id, w.week
    from active a
    cross join lateral (
      select coalesce(enqueue_weekly_analysis.week_of, public.user_week_of(a.user_id)) as week
    ) w
  ),
  keyed as (
    -- to_char, not ::text, so the key does not depend on the session's DateStyle.
    select wanted.user_id, wanted.week,
           'weekly_analysis:' || wanted.user_id || ':' || to_char(wanted.week, 'YYYY-MM-DD') as dedupe_key
    from wanted
  )
  insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
  select 'weekly_analysis',
         k.user_id,
         jsonb_build_object('week_of', to_char(k.week, 'YYYY-MM-DD'), 'force', false, 'trigger', 'weekly'),
         0,
         k.dedupe_key
  from keyed k
  where not exists (select 1 from public.jobs j where j.dedupe_key = k.dedupe_key)
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running')
  do nothing;

  get diagnostics inserted = row_count;
  -- A batch of thousands of jobs makes the queue's statistics stale at once; fresh ones
  -- keep every claim an index scan instead of a scan and sort of the whole batch.
  if inserted >= 1000 then
    analyze public.jobs;
  end if;
  return inserted;
end
$$;

-- Only the worker, service_role and pg_cron enqueue the batch; nobody through the API.
revoke execute on function public.enqueue_weekly_analysis(date) from public, anon, authenticated;
grant execute on function public.enqueue_weekly_analysis(date) to service_role;

-- How many refreshes each person has used in each of their weeks.
create table if not exists public.analysis_refreshes (
  user_id uuid not null references auth.users (id) on delete cascade,
  week_of date not null,
  refresh_count integer not null default 1 check (refresh_count >= 1),
  last_refresh_at timestamptz not null default now(),
  primary key (user_id, week_of),
  constraint analysis_refreshes_week_of_is_monday check (extract(isodow from week_of) = 1)
);

-- People read their own counts (the app shows "3 of 10 used"); only
-- request_analysis_refresh() writes them.
alter table public.analysis_refreshes enable row level security;
revoke all on public.analysis_refreshes from anon, authenticated;
grant select on public.analysis_refreshes to authenticated;
grant all on public.analysis_refreshes to service_role;

drop policy if exists "Users can view their own refresh counts" on public.analysis_refreshes;
create policy "Users can view their own refresh counts" on public.analysis_refreshes
  for select to authenticated using (user_id = (select auth.uid()));

-- The signed-in person asks for a fresh analysis of their current week: at most ten a
-- week, enqueued ahead of the Monday batch. Definer, because people may neither write
-- the counter nor the queue themselves; the person is always auth.uid(), never an
-- argument. PostgREST answers SQLSTATE PTxyz with HTTP status xyz.
create or replace function public.request_analysis_refresh()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  weekly_limit constant integer := 10;
  caller uuid := auth.uid();
  week date;
  used integer;
  job_id bigint;
begin
  if caller is null then
    raise exception 'sign in to refresh your analysis' using errcode = 'PT401';
  end if;

  week := public.user_week_of(caller);

  -- Count and check in one statement: concurrent calls queue on the row lock and each
  -- re-checks the limit against the count the previous one committed.
  insert into public.analysis_refreshes as r (user_id, week_of, refresh_count, last_refresh_at)
  values (caller, week, 1, now())
  on conflict (user_id, week_of) do update
    set refresh_count = r.refresh_count + 1,
        last_refresh_at = excluded.last_refresh_at
    where r.refresh_count < weekly_limit
  returning r.refresh_count into used;

  if used is null then
    raise exception 'weekly refresh limit reached (% of % used); it resets on Monday %',
      weekly_limit, weekly_limit, to_char(week + 7, 'YYYY-MM-DD')
      using errcode = 'PT429',
            detail = 'The limit counts refreshes per week, Monday to Sunday in your time zone.';
  end if;

  insert into public.jobs (kind, user_id, payload, priority)
  values (
    'weekly_analysis',
    caller,
    jsonb_build_object('week_of', to_char(week, 'YYYY-MM-DD'), 'force', true, 'trigger', 'refresh'),
    10
  )
  returning id into job_id;

  return jsonb_build_object(
    'refreshes_used', used,
    'refreshes_remaining', weekly_limit - used,
    'week_of', to_char(week, 'YYYY-MM-DD'),
    'job_id', job_id
  );
end
$$;

-- Signed-in people only: anon has no week to refresh, service_role has no auth.uid().
revoke execute on function public.request_analysis_refresh() from public, anon, service_role;
grant execute on function public.request_analysis_refresh() to authenticated;

-- Daily clean-up: finished jobs that succeeded or were cancelled go after 30 days
-- (failed ones stay, with their errors, for the post-mortem), and pg_cron's run
-- history after 7 days. Dynamic SQL for cron.job_run_details, which exists only in
-- the database where pg_cron is installed.
create or replace function public.run_housekeeping()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  jobs_deleted integer;
  cron_runs_deleted integer;
begin
  -- coalesce: a job cancelled before it ever ran may have no finished_at.
  delete from public.jobs j
  where j.status in ('succeeded', 'cancelled')
    and coalesce(j.finished_at, j.updated_at) < now() - interval '30 days';
  get diagnostics jobs_deleted = row_count;

  if pg_catalog.to_regclass('cron.job_run_details') is not null then
    execute 'delete from cron.job_run_details d'
         || ' where coalesce(d.end_time, d.start_time) < now() - interval ''7 days''';
    get diagnostics cron_runs_deleted = row_count;
  end if;

  return jsonb_build_object('jobs_deleted', jobs_deleted, 'cron_runs_deleted', cron_runs_deleted);
end
$$;

revoke execute on function public.run_housekeeping() from public, anon, authenticated;
grant execute on function public.run_housekeeping() to service_role;
