-- Whole local weeks, delivered at the person's Monday morning; the app's tables read as
-- the app has them; the browser's time zone accepted by every RPC; a story on demand.
--
-- The week rules (week_of W is a Monday in the person's own time zone):
--   * the scheduled report of week W covers exactly the previous local week, W-7 00:00
--     to W 00:00, and is enqueued by the hourly run once the person's local time has
--     passed Monday 06:00 of W, so it is ready when they wake up, in any zone;
--   * a refresh during W covers the seven local days ending at the refresh and replaces
--     week W's report;
--   * every generation records the period it covered (period_start, period_end, in the
--     zone it was computed in); get_health_analysis returns it.
-- The window itself is computed by the worker (worker/analysis/window.py); the database
-- decides which person-weeks are due.

-- Indexes the worker needs on the app's tables (names of our own; nothing else of those
-- tables changes). Per person and time for gathering one person's five weeks; by time
-- alone for finding who was active in the last 28 days.
create index if not exists proxima_symptom_tracking_user_date
  on public.symptom_tracking (user_id, occurrence_date);
create index if not exists proxima_symptom_tracking_date
  on public.symptom_tracking (occurrence_date);
create index if not exists proxima_quick_scans_user_created
  on public.quick_scans (user_id, created_at);
create index if not exists proxima_quick_scans_created
  on public.quick_scans (created_at);
create index if not exists proxima_deep_dive_sessions_user_created
  on public.deep_dive_sessions (user_id, created_at);
create index if not exists proxima_deep_dive_sessions_created
  on public.deep_dive_sessions (created_at);
create index if not exists proxima_conversations_user_created
  on public.conversations (user_id, created_at);
create index if not exists proxima_conversations_created
  on public.conversations (created_at);
create index if not exists proxima_messages_conversation_created
  on public.messages (conversation_id, created_at);
create index if not exists proxima_messages_created
  on public.messages (created_at);
create index if not exists proxima_health_stories_user_generated
  on public.health_stories (user_id, generated_date);
create index if not exists proxima_health_stories_created
  on public.health_stories (created_at);
create index if not exists proxima_story_notes_user_created
  on public.story_notes (user_id, created_at);
create index if not exists proxima_story_notes_created
  on public.story_notes (created_at);

-- What each generation covered, the patterns in the person's history it rested on (the
-- findings that survived the false-discovery guard, in plain words with their numbers),
-- and the story jobs among them.
alter table public.analysis_generations
  add column if not exists period_start timestamptz,
  add column if not exists period_end timestamptz,
  add column if not exists time_zone text,
  add column if not exists findings jsonb not null default '[]'
    constraint analysis_generations_findings_is_array check (jsonb_typeof(findings) = 'array');

alter table public.analysis_generations
  drop constraint if exists analysis_generations_trigger_check;
alter table public.analysis_generations
  add constraint analysis_generations_trigger_check
    check (trigger in ('weekly', 'refresh', 'manual', 'story'));

alter table public.analysis_generations
  drop constraint if exists analysis_generations_period_check;
alter table public.analysis_generations
  add constraint analysis_generations_period_check
    check (period_start is null or period_end is null or period_start < period_end);

-- Stories we wrote named the oracle chats `oracle_conversations`; the app reads
-- `oracle_chats`. Both keys stay on the rows we wrote before.
update public.health_stories s
   set data_sources = s.data_sources
                      || jsonb_build_object('oracle_chats', s.data_sources -> 'oracle_conversations')
 where s.data_sources ->> 'generated_by' = 'weekly_analysis'
   and s.data_sources ? 'oracle_conversations'
   and not s.data_sources ? 'oracle_chats';

-- The signed-in person's time zone, from the browser: saved on their profile in its
-- canonical spelling (a profile is created when there is none). Returns what is stored.
-- Definer, because people may not insert profiles themselves.
--   no JWT subject        PT401  sign in to save your time zone
--   unknown or refused    22023  unknown time zone "...": use an IANA name ...
create or replace function public.save_time_zone(time_zone text)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  zone text;
begin
  if caller is null then
    raise exception 'sign in to save your time zone' using errcode = 'PT401';
  end if;
  zone := public.require_time_zone(save_time_zone.time_zone);
  insert into public.profiles as p (user_id, timezone)
  values (caller, zone)
  on conflict (user_id) do update
    set timezone = excluded.timezone,
        updated_at = now()
    where p.timezone is distinct from excluded.timezone;
  return zone;
end
$$;

revoke execute on function public.save_time_zone(text) from public, anon, service_role;
grant execute on function public.save_time_zone(text) to authenticated;

-- How every RPC of ours starts: the caller is auth.uid() (never an argument), PT401
-- without one; the browser's zone, when given, is saved first, so the rest of the call
-- already computes the person's week in it. An error later in the call rolls the saved
-- zone back with everything else.
create or replace function public.api_caller(action text, time_zone text default null)
returns uuid
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is null then
    raise exception 'sign in to %', api_caller.action using errcode = 'PT401';
  end if;
  if api_caller.time_zone is not null then
    perform public.save_time_zone(api_caller.time_zone);
  end if;
  return caller;
end
$$;

revoke execute on function public.api_caller(text, text) from public, anon, service_role;
grant execute on function public.api_caller(text, text) to authenticated;

-- Ten refreshes per person and week (analysis and story together), counted atomically:
-- concurrent calls queue on the counter's row lock and each re-checks the limit against
-- the count the previous one committed. Returns the count used after this one; PT429
-- (HTTP 429 through PostgREST) once the ten are used, with nothing written.
create or replace function public.take_weekly_refresh(caller uuid, week date)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  weekly_limit constant integer := 10;
  used integer;
begin
  insert into public.analysis_refreshes as r (user_id, week_of, refresh_count, last_refresh_at)
  values (take_weekly_refresh.caller, take_weekly_refresh.week, 1, now())
  on conflict (user_id, week_of) do update
    set refresh_count = r.refresh_count + 1,
        last_refresh_at = excluded.last_refresh_at
    where r.refresh_count < weekly_limit
  returning r.refresh_count into used;

  if used is null then
    raise exception 'weekly refresh limit reached (% of % used); it resets on Monday %',
      weekly_limit, weekly_limit, to_char(take_weekly_refresh.week + 7, 'YYYY-MM-DD')
      using errcode = 'PT429',
            detail = 'The limit counts refreshes per week, Monday to Sunday in your time zone.';
  end if;
  return used;
end
$$;

-- Internal: only our definer RPCs call it.
revoke execute on function public.take_weekly_refresh(uuid, date) from public, anon, authenticated, service_role;

-- The person's own "refresh my analysis" button: the seven local days ending now,
-- replacing this week's report, ahead of the Monday batch.
drop function if exists public.request_analysis_refresh();
create or replace function public.request_analysis_refresh(time_zone text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('refresh your analysis', request_analysis_refresh.time_zone);
  week date := public.user_week_of(caller);
  used integer := public.take_weekly_refresh(caller, week);
  job_id bigint;
begin
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
    'refreshes_remaining', 10 - used,
    'week_of', to_char(week, 'YYYY-MM-DD'),
    'job_id', job_id
  );
end
$$;

revoke execute on function public.request_analysis_refresh(text) from public, anon, service_role;
grant execute on function public.request_analysis_refresh(text) to authenticated;

-- The app's Generate/Refresh story button: a new story of the seven local days ending
-- now, written through the queue (kind weekly_story), counted against the same ten
-- refreshes a week. The report of the week is left as it is.
create or replace function public.request_story_refresh(time_zone text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('write your story', request_story_refresh.time_zone);
  week date := public.user_week_of(caller);
  used integer := public.take_weekly_refresh(caller, week);
  job_id bigint;
begin
  insert into public.jobs (kind, user_id, payload, priority)
  values (
    'weekly_story',
    caller,
    jsonb_build_object('week_of', to_char(week, 'YYYY-MM-DD'), 'trigger', 'story'),
    10
  )
  returning id into job_id;

  return jsonb_build_object(
    'refreshes_used', used,
    'refreshes_remaining', 10 - used,
    'week_of', to_char(week, 'YYYY-MM-DD'),
    'job_id', job_id
  );
end
$$;

revoke execute on function public.request_story_refresh(text) from public, anon, service_role;
grant execute on function public.request_story_refresh(text) to authenticated;

-- The weekly batch, run every hour. For week_of null each active person (anyone with
-- activity in the app's tables in the last 28 days) gets the latest week that is due for
-- them: the current local week once their local time has passed Monday 06:00, the week
-- before until then. For an explicit week_of (a Monday), the people for whom that week
-- has not begun yet get no job (a notice says how many).
--
-- Once per person-week: a person-week with a job in any status is not enqueued again,
-- except a person-week whose only job failed for good, which the next run enqueues once
-- more (after that, `retry-failed` is the way). Returns the number of jobs inserted.
-- `as_of` is the moment the run stands for (now; tests and replays pass another).
drop function if exists public.enqueue_weekly_analysis(date);
create or replace function public.enqueue_weekly_analysis(week_of date default null, as_of timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  since timestamptz := enqueue_weekly_analysis.as_of - interval '28 days';
  inserted integer;
  not_begun integer;
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
  -- The app's text user ids become uuids only when they have a uuid's shape (anonymous
  -- or foreign ids are skipped) and belong to a signed-up person.
  with active(user_id) as (
    select s.user_id::text from public.health_stories s where s.created_at >= since
    union
    select n.user_id::text from public.story_notes n where n.created_at >= since
    union
    select q.user_id from public.quick_scans q where q.created_at >= since
    union
    select t.user_id from public.symptom_tracking t
    where t.occurrence_date >= (since at time zone 'UTC')::date
    union
    select d.user_id from public.deep_dive_sessions d where d.created_at >= since
    union
    select c.user_id::text from public.conversations c where c.created_at >= since
    union
    select c.user_id::text
    from public.messages m
    join public.conversations c on c.id = m.conversation_id
    where m.created_at >= since
  ),
  people as (
    select distinct u.id as user_id, coalesce(p.timezone, 'UTC') as zone
    from active a
    join auth.users u
      on u.id = case
                  when a.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                  then a.user_id::uuid
                end
    left join public.profiles p on p.user_id = u.id
  ),
  local_now as (
    select pe.user_id, pe.zone, (enqueue_weekly_analysis.as_of at time zone pe.zone) as local_at
    from people pe
  ),
  wanted as (
    select l.user_id,
           coalesce(
             enqueue_weekly_analysis.week_of,
             case
               when l.local_at >= pg_catalog.date_trunc('week', l.local_at) + interval '6 hours'
               then pg_catalog.date_trunc('week', l.local_at)::date
               else pg_catalog.date_trunc('week', l.local_at)::date - 7
             end
           ) as week,
           (enqueue_weekly_analysis.week_of is null or l.local_at >= enqueue_weekly_analysis.week_of) as begun
    from local_now l
  ),
  keyed as (
    -- to_char, not ::text, so the key does not depend on the session's DateStyle.
    select w.user_id, w.week,
           'weekly_analysis:' || w.user_id || ':' || to_char(w.week, 'YYYY-MM-DD') as dedupe_key
    from wanted w
    where w.begun
  ),
  added as (
    insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
    select 'weekly_analysis',
           k.user_id,
           jsonb_build_object('week_of', to_char(k.week, 'YYYY-MM-DD'), 'force', false, 'trigger', 'weekly'),
           0,
           k.dedupe_key
    from keyed k
    cross join lateral (
      select count(*) as jobs, count(*) filter (where j.status = 'failed') as failed
      from public.jobs j
      where j.dedupe_key = k.dedupe_key
    ) earlier
    where earlier.jobs = 0 or (earlier.jobs = 1 and earlier.failed = 1)
    on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running')
    do nothing
    returning 1
  )
  select (select count(*) from added), (select count(*) from wanted w where not w.begun)
    into inserted, not_begun;

  if not_begun > 0 then
    raise notice 'the week of % has not begun yet for % people: no jobs for them',
      to_char(enqueue_weekly_analysis.week_of, 'YYYY-MM-DD'), not_begun;
  end if;

  -- A batch of thousands of jobs makes the queue's statistics stale at once; fresh ones
  -- keep every claim an index scan instead of a scan and sort of the whole batch.
  if inserted >= 1000 then
    analyze public.jobs;
  end if;
  return inserted;
end
$$;

revoke execute on function public.enqueue_weekly_analysis(date, timestamptz) from public, anon, authenticated;
grant execute on function public.enqueue_weekly_analysis(date, timestamptz) to service_role;

-- The app's `GET /api/health-analysis` as one RPC, now with the period each report
-- covers ("period": its first and last local day, the instants it starts and ends, and
-- the zone) and the browser's time zone accepted. Volatile because saving the zone
-- writes; the reading itself is as the caller (invoker), under row-level security.
-- Story generations (trigger 'story') write no report and do not count as one.
drop function if exists public.get_health_analysis(date);
create or replace function public.get_health_analysis(week_of date default null, time_zone text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('read your analysis', get_health_analysis.time_zone);
  current_week date;
  chosen_week date;
  latest public.analysis_generations%rowtype;
begin
  if get_health_analysis.week_of is not null then
    -- Every report row's week_of is a Monday (a CHECK says so): any other day would
    -- silently match nothing, so say what is wrong instead.
    if extract(isodow from get_health_analysis.week_of) <> 1 then
      raise exception 'week_of must be a Monday; % is a %',
        to_char(get_health_analysis.week_of, 'YYYY-MM-DD'),
        to_char(get_health_analysis.week_of, 'FMDay')
        using errcode = '22023',
              hint = 'Pass the Monday that starts the week, or omit week_of for the latest analysis.';
    end if;
    chosen_week := get_health_analysis.week_of;
  else
    -- The current week if it has a report; otherwise the latest week that has one
    -- (early on a Monday, before 06:00, last week's is what the app should show);
    -- otherwise the current week, with empty lists.
    current_week := public.user_week_of(caller);
    if exists (
      select 1 from public.analysis_generations g
      where g.user_id = caller and g.week_of = current_week and g.status = 'succeeded'
        and g.trigger <> 'story'
    ) then
      chosen_week := current_week;
    else
      select max(g.week_of) into chosen_week
      from public.analysis_generations g
      where g.user_id = caller and g.status = 'succeeded' and g.trigger <> 'story';
      chosen_week := coalesce(chosen_week, current_week);
    end if;
  end if;

  -- The week's latest succeeded report generation (refreshes add more than one).
  select g.* into latest
  from public.analysis_generations g
  where g.user_id = caller and g.week_of = chosen_week and g.status = 'succeeded'
    and g.trigger <> 'story'
  order by coalesce(g.completed_at, g.created_at) desc, g.created_at desc, g.id desc
  limit 1;

  -- Each list holds its table's columns minus user_id, most useful first, with
  -- created_at and id as tie-breakers so the order is always the same.
  return jsonb_build_object(
    'week_of', to_char(chosen_week, 'YYYY-MM-DD'),
    'generated_at', coalesce(latest.completed_at, latest.created_at),
    'generation_id', latest.id,
    'trigger', latest.trigger,
    'period', case when latest.period_start is not null then jsonb_build_object(
      'start', to_char(latest.period_start at time zone latest.time_zone, 'YYYY-MM-DD'),
      'end', to_char((latest.period_end at time zone latest.time_zone) - interval '1 microsecond', 'YYYY-MM-DD'),
      'starts_at', latest.period_start,
      'ends_at', latest.period_end,
      'time_zone', latest.time_zone
    ) end,
    'insights', coalesce((
      select jsonb_agg(to_jsonb(i) - 'user_id'
                       order by i.confidence desc nulls last, i.created_at, i.id)
      from public.health_insights i
      where i.user_id = caller and i.week_of = chosen_week
    ), '[]'::jsonb),
    'predictions', coalesce((
      select jsonb_agg(to_jsonb(p) - 'user_id'
                       order by p.probability desc nulls last, p.created_at, p.id)
      from public.health_predictions p
      where p.user_id = caller and p.week_of = chosen_week
    ), '[]'::jsonb),
    'shadow_patterns', coalesce((
      select jsonb_agg(to_jsonb(s) - 'user_id'
                       order by case s.significance when 'high' then 1 when 'medium' then 2
                                                    when 'low' then 3 else 4 end,
                                s.days_missing desc nulls last, s.created_at, s.id)
      from public.shadow_patterns s
      where s.user_id = caller and s.week_of = chosen_week
    ), '[]'::jsonb),
    'strategic_moves', coalesce((
      select jsonb_agg(to_jsonb(m) - 'user_id'
                       order by m.priority desc nulls last, m.created_at, m.id)
      from public.strategic_moves m
      where m.user_id = caller and m.week_of = chosen_week
    ), '[]'::jsonb)
  );
end
$$;

revoke execute on function public.get_health_analysis(date, text) from public, anon, service_role;
grant execute on function public.get_health_analysis(date, text) to authenticated;

-- request_pdf_export takes the browser's time zone too: 20261130120000_doctor_shares.sql
-- re-creates it with that argument and the daily limit.

-- The clock: every hour instead of Monday 09:00 UTC. An hour with nobody due adds
-- nothing. Where pg_cron is absent the worker's schedule loop makes the same call.
do $$
begin
  if pg_catalog.to_regnamespace('cron') is null then
    raise notice 'pg_cron is not installed in this database: the worker schedules the hourly enqueue';
    return;
  end if;
  perform cron.schedule(
    'weekly-health-analysis', '0 * * * *', 'select public.enqueue_weekly_analysis()'
  );
end
$$;

-- Housekeeping, unchanged but for how it reaches pg_cron's run history: the table is
-- resolved once and named through format(), so a static checker (supabase db lint) no
-- longer reads the statement as referring to a table that a database without pg_cron
-- lacks; at run time it is still skipped there.
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
  cron_runs regclass := pg_catalog.to_regclass('cron.job_run_details');
begin
  -- coalesce: a job cancelled before it ever ran may have no finished_at.
  delete from public.jobs j
  where j.status in ('succeeded', 'cancelled')
    and coalesce(j.finished_at, j.updated_at) < now() - interval '30 days';
  get diagnostics jobs_deleted = row_count;

  if cron_runs is not null then
    execute pg_catalog.format(
      'delete from %s d where coalesce(d.end_time, d.start_time) < now() - interval ''7 days''',
      cron_runs
    );
    get diagnostics cron_runs_deleted = row_count;
  end if;

  return jsonb_build_object('jobs_deleted', jobs_deleted, 'cron_runs_deleted', cron_runs_deleted);
end
$$;

revoke execute on function public.run_housekeeping() from public, anon, authenticated;
grant execute on function public.run_housekeeping() to service_role;
