-- Fixes from a review of the profile trigger, exports, the RPCs' input checks and limits.
-- (retry-failed's own fix, one revived job per dedupe key, is in worker/queue/queries.sql.)
--
-- 1. A zone changed by a direct update of the profile (the app may: `grant update (name,
--    timezone, updated_at)`) now moves profiles.updated_at to now(), as save_time_zone
--    does. The hourly enqueue finds changed people by updated_at since its mark; without
--    it, moving from a zone not yet due for week W to one already enqueued for W lost
--    week W. A caller cannot hide a zone change by setting updated_at back in the same
--    update.
-- 2. A cancelled export_pdf job fails its export with the error 'cancelled' instead of
--    leaving it pending forever.
-- 3. own_story_selection refuses a list of more than 1000 ids, or of more than one
--    dimension, before reading it (22023), so a huge list costs nothing.
-- 4. get_health_analysis refuses week_of 'infinity' and '-infinity' as it refuses any
--    day that is not a Monday (22023).
-- 5. The API roles lose the privileges Supabase's default privileges gave them on the
--    sequence of public.jobs.
-- 6. The ten refreshes a week and the twenty shares and exports a day count against the
--    counter whose period covers now, whatever zone the caller names: each counter of
--    public.analysis_refreshes and public.daily_usage (our tables) gains its period as
--    two instants.

-- -- 1. a zone change shows in updated_at -------------------------------------------------------

-- As in 20261130090000_canonical_time_zones.sql, plus updated_at. The trigger still fires
-- only for inserts and updates that name timezone; the same zone in another spelling
-- ('asia/calcutta' for 'Asia/Kolkata') is no change and leaves updated_at alone.
create or replace function public.profiles_normalise_time_zone()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if new.timezone is not null then
    new.timezone := public.require_time_zone(new.timezone);
  end if;
  if tg_op = 'UPDATE' and new.timezone is distinct from old.timezone then
    new.updated_at := pg_catalog.now();
  end if;
  return new;
end
$$;

revoke execute on function public.profiles_normalise_time_zone()
  from public, anon, authenticated, service_role;

-- -- 2. a cancelled export job fails its export -------------------------------------------------

-- As in 20261128120000_pdf_exports.sql, plus the cancelled branch.
create or replace function public.sync_pdf_export_with_job()
returns trigger
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  raw_id text := new.payload ->> 'export_id';
  target uuid;
begin
  if raw_id is null
     or raw_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return null;
  end if;
  target := raw_id::uuid;

  if new.status = 'failed' then
    update public.export_history e
       set status = 'failed',
           error = new.last_error,
           completed_at = now()
     where e.id = target
       and e.export_type = 'pdf'
       and e.status is distinct from 'ready';
  elsif new.status = 'cancelled' then
    -- Cancelled by an operator (`cancel --kind export_pdf`): no worker will ever make
    -- the file, so the person sees a failed export instead of one pending forever.
    update public.export_history e
       set status = 'failed',
           error = 'cancelled',
           completed_at = now()
     where e.id = target
       and e.export_type = 'pdf'
       and e.status is distinct from 'ready';
  elsif new.status = 'queued' and old.status = 'failed' then
    update public.export_history e
       set status = 'pending',
           error = null,
           completed_at = null
     where e.id = target
       and e.export_type = 'pdf'
       and e.status = 'failed';
  end if;

  return null;
end
$$;

revoke execute on function public.sync_pdf_export_with_job() from public, anon, authenticated, service_role;

drop trigger if exists jobs_export_pdf_cancelled on public.jobs;
create trigger jobs_export_pdf_cancelled
  after update of status on public.jobs
  for each row
  when (new.kind = 'export_pdf' and new.status = 'cancelled' and old.status is distinct from 'cancelled')
  execute function public.sync_pdf_export_with_job();

-- -- 3. a story list is bounded before it is read -----------------------------------------------

-- As in 20261130120000_doctor_shares.sql, plus the two checks at the top:
--   more than one dimension     22023  story_ids must be a flat list of story ids, ...
--   more than 1000 ids          22023  an export (a share) lists at most 1000 story ids; N were given
create or replace function public.own_story_selection(caller uuid, story_ids uuid[], purpose text)
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  max_stories constant integer := 100;
  -- Repeats count once toward max_stories, so a list may be longer; not this long.
  max_ids constant integer := 1000;
  chosen uuid[];
  chosen_count integer;
  not_yours uuid;
begin
  -- Before anything reads the list: a list of many dimensions is not a list of ids (and
  -- array_position below refuses it with an unclear 0A000), and a list far longer than
  -- any selection is refused by its length alone instead of being de-duplicated first,
  -- which cost seconds of CPU a call for a million ids.
  if pg_catalog.array_ndims(own_story_selection.story_ids) > 1 then
    raise exception 'story_ids must be a flat list of story ids, not an array of % dimensions',
      pg_catalog.array_ndims(own_story_selection.story_ids)
      using errcode = '22023';
  end if;
  if pg_catalog.cardinality(own_story_selection.story_ids) > max_ids then
    raise exception '% lists at most % story ids; % were given',
      case own_story_selection.purpose when 'export' then 'an export' else 'a ' || own_story_selection.purpose end,
      max_ids, pg_catalog.cardinality(own_story_selection.story_ids)
      using errcode = '22023';
  end if;
  if coalesce(pg_catalog.cardinality(own_story_selection.story_ids), 0) = 0 then
    raise exception 'choose at least one story to %', own_story_selection.purpose using errcode = '22023';
  end if;
  if pg_catalog.array_position(own_story_selection.story_ids, null) is not null then
    raise exception 'a story id in the list is null' using errcode = '22004';
  end if;

  select pg_catalog.array_agg(d.id order by d.first_position)
    into chosen
  from (
    select given.id, min(given.ord) as first_position
    from unnest(own_story_selection.story_ids) with ordinality as given (id, ord)
    group by given.id
  ) d;
  chosen_count := pg_catalog.cardinality(chosen);

  if chosen_count > max_stories then
    raise exception '% holds at most % stories; % were chosen',
      case own_story_selection.purpose when 'export' then 'an export' else 'a ' || own_story_selection.purpose end,
      max_stories, chosen_count
      using errcode = '22023';
  end if;

  select c.id
    into not_yours
  from unnest(chosen) with ordinality as c (id, ord)
  where not exists (
    select 1 from public.health_stories s where s.id = c.id and s.user_id = own_story_selection.caller
  )
  order by c.ord
  limit 1;

  if not_yours is not null then
    raise exception 'story % is not one of your stories', not_yours
      using errcode = 'PT403',
            hint = pg_catalog.format('%s can hold only stories from your own history.',
                                     case own_story_selection.purpose when 'export' then 'An export'
                                          else 'A ' || own_story_selection.purpose end);
  end if;
  return chosen;
end
$$;

revoke execute on function public.own_story_selection(uuid, uuid[], text)
  from public, anon, authenticated, service_role;

-- -- 4. week_of must be a day -------------------------------------------------------------------

-- As in 20261130100000_whole_local_weeks.sql, plus the refusal of a week_of without end.
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
    -- 'infinity' and '-infinity' are no day at all (extract gives null, so the test
    -- below let them through and the call answered with a null week): refused alike.
    if not pg_catalog.isfinite(get_health_analysis.week_of) then
      raise exception 'week_of must be a Monday; % is not a day', get_health_analysis.week_of::text
        using errcode = '22023',
              hint = 'Pass the Monday that starts the week, or omit week_of for the latest analysis.';
    end if;
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

-- -- 5. our sequences are not the API's ---------------------------------------------------------

-- Supabase grants every sequence created in public to anon and authenticated (default
-- privileges). Only the worker and our definer functions insert jobs, and an identity
-- column's values need no grant on its sequence. The sequences of the app's own tables
-- are left as the app made them.
revoke all on sequence public.jobs_id_seq from anon, authenticated;

-- -- 6. a limit's counter is the one that covers now, whatever zone the caller names --------------

-- The ten refreshes a week and the twenty shares and exports a day were counted per local
-- week or day in the zone of the call, and every RPC saves the browser's zone first: naming
-- a zone already in the next week (or day) opened a fresh counter, twenty refreshes in one
-- evening or forty to sixty shares a day. Each counter now holds its period as instants,
-- and a call counts against the counter whose period covers now, whichever zone opened it;
-- only when none does is the counter of the caller's local week (day) taken, as before.
-- Counters of the same week (day) label merge: a zone that names a label already counted
-- elsewhere continues that count, its period stretched to cover now.
--
-- Invariant: at most one counter of a person and action covers any instant from now on.
-- A counter is opened or stretched only when none covers now, and it then covers now; as
-- now only grows, an older counter that does not cover now covers no later instant either.
-- Both steps run under an advisory lock per person and action, so two calls naming zones
-- in different weeks cannot each open a counter of their own.
alter table public.analysis_refreshes add column if not exists period_start timestamptz;
alter table public.analysis_refreshes add column if not exists period_end timestamptz;
alter table public.daily_usage add column if not exists period_start timestamptz;
alter table public.daily_usage add column if not exists period_end timestamptz;

comment on column public.analysis_refreshes.period_start is
  'The instant the counted week began, in the zone that opened the counter; null on counters older than 20261202090000.';
comment on column public.analysis_refreshes.period_end is
  'The instant the counted week ends; a refresh counts against the counter whose period covers it.';
comment on column public.daily_usage.period_start is
  'The instant the counted day began, in the zone that opened the counter; null on counters older than 20261202090000.';
comment on column public.daily_usage.period_end is
  'The instant the counted day ends; a use counts against the counter whose period covers it.';

-- The counters still running get their periods, in their owner's zone today (the best
-- guess there is); older ones never cover now again and stay as they are.
update public.analysis_refreshes r
   set period_start = r.week_of::timestamp at time zone coalesce(p.timezone, 'UTC'),
       period_end = (r.week_of + 7)::timestamp at time zone coalesce(p.timezone, 'UTC')
  from auth.users u
  left join public.profiles p on p.user_id = u.id
 where u.id = r.user_id
   and r.period_start is null
   and r.week_of >= current_date - 14;

update public.daily_usage d
   set period_start = d.day::timestamp at time zone coalesce(p.timezone, 'UTC'),
       period_end = (d.day + 1)::timestamp at time zone coalesce(p.timezone, 'UTC')
  from auth.users u
  left join public.profiles p on p.user_id = u.id
 where u.id = d.user_id
   and d.period_start is null
   and d.day >= current_date - 2;

-- Ten refreshes per person and week (analysis and story together), counted atomically
-- against the counter that covers now; `week` (the caller's local week, in the zone just
-- saved) names the counter to open when none does. Returns the count used after this one;
-- PT429 once the ten are used, with nothing written.
create or replace function public.take_weekly_refresh(caller uuid, week date)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  weekly_limit constant integer := 10;
  zone text := coalesce(
    (select p.timezone from public.profiles p where p.user_id = take_weekly_refresh.caller), 'UTC'
  );
  starts timestamptz := take_weekly_refresh.week::timestamp at time zone zone;
  ends timestamptz := (take_weekly_refresh.week + 7)::timestamp at time zone zone;
  covering public.analysis_refreshes%rowtype;
  used integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('public.take_weekly_refresh'), pg_catalog.hashtext(take_weekly_refresh.caller::text)
  );

  select r.* into covering
    from public.analysis_refreshes r
   where r.user_id = take_weekly_refresh.caller
     and r.period_start <= pg_catalog.now() and pg_catalog.now() < r.period_end
   order by r.period_start
   limit 1;

  if found then
    update public.analysis_refreshes r
       set refresh_count = r.refresh_count + 1,
           last_refresh_at = pg_catalog.now()
     where r.user_id = covering.user_id
       and r.week_of = covering.week_of
       and r.refresh_count < weekly_limit
    returning r.refresh_count into used;
    starts := covering.period_start;
    ends := covering.period_end;
  else
    insert into public.analysis_refreshes as r
      (user_id, week_of, refresh_count, last_refresh_at, period_start, period_end)
    values (take_weekly_refresh.caller, take_weekly_refresh.week, 1, pg_catalog.now(), starts, ends)
    on conflict (user_id, week_of) do update
      set refresh_count = r.refresh_count + 1,
          last_refresh_at = excluded.last_refresh_at,
          period_start = least(r.period_start, excluded.period_start),
          period_end = greatest(r.period_end, excluded.period_end)
      where r.refresh_count < weekly_limit
    returning r.refresh_count into used;
  end if;

  if used is null then
    if ends = (take_weekly_refresh.week + 7)::timestamp at time zone zone then
      raise exception 'weekly refresh limit reached (% of % used); it resets on Monday %',
        weekly_limit, weekly_limit, pg_catalog.to_char(take_weekly_refresh.week + 7, 'YYYY-MM-DD')
        using errcode = 'PT429',
              detail = 'The limit counts refreshes per week, Monday to Sunday in your time zone.';
    end if;
    raise exception 'weekly refresh limit reached (% of % used); it resets on % (%)',
      weekly_limit, weekly_limit, pg_catalog.to_char(ends at time zone zone, 'FMDay YYYY-MM-DD HH24:MI'), zone
      using errcode = 'PT429',
            detail = 'The limit counts refreshes per week; this week began in the time zone you had then.';
  end if;
  return used;
end
$$;

revoke execute on function public.take_weekly_refresh(uuid, date) from public, anon, authenticated, service_role;

-- One more use of `action` for the caller, counted atomically against the counter that
-- covers now; the caller's local day (in the zone just saved) names the counter to open
-- when none does. Returns the count after this use; PT429 once `daily_limit` are used.
create or replace function public.take_daily_allowance(caller uuid, action text, daily_limit integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  zone text := coalesce(
    (select p.timezone from public.profiles p where p.user_id = take_daily_allowance.caller), 'UTC'
  );
  today date := (pg_catalog.now() at time zone zone)::date;
  starts timestamptz := today::timestamp at time zone zone;
  ends timestamptz := (today + 1)::timestamp at time zone zone;
  covering public.daily_usage%rowtype;
  used integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('public.take_daily_allowance:' || take_daily_allowance.action),
    pg_catalog.hashtext(take_daily_allowance.caller::text)
  );

  select u.* into covering
    from public.daily_usage u
   where u.user_id = take_daily_allowance.caller
     and u.action = take_daily_allowance.action
     and u.period_start <= pg_catalog.now() and pg_catalog.now() < u.period_end
   order by u.period_start
   limit 1;

  if found then
    update public.daily_usage u
       set used = u.used + 1,
           last_used_at = pg_catalog.now()
     where u.user_id = covering.user_id
       and u.action = covering.action
       and u.day = covering.day
       and u.used < take_daily_allowance.daily_limit
    returning u.used into used;
    ends := covering.period_end;
  else
    insert into public.daily_usage as u (user_id, action, day, used, last_used_at, period_start, period_end)
    values (take_daily_allowance.caller, take_daily_allowance.action, today, 1, pg_catalog.now(), starts, ends)
    on conflict on constraint daily_usage_pkey do update
      set used = u.used + 1,
          last_used_at = excluded.last_used_at,
          period_start = least(u.period_start, excluded.period_start),
          period_end = greatest(u.period_end, excluded.period_end)
      where u.used < take_daily_allowance.daily_limit
    returning u.used into used;
  end if;

  if used is null then
    if ends = (today + 1)::timestamp at time zone zone then
      raise exception 'daily limit reached: at most % % a day; it resets at midnight (%)',
        take_daily_allowance.daily_limit,
        case take_daily_allowance.action when 'doctor_share' then 'doctor shares' else 'PDF exports' end,
        zone
        using errcode = 'PT429',
              detail = 'The limit counts per day in your time zone.';
    end if;
    raise exception 'daily limit reached: at most % % a day; it resets at % (%)',
      take_daily_allowance.daily_limit,
      case take_daily_allowance.action when 'doctor_share' then 'doctor shares' else 'PDF exports' end,
      pg_catalog.to_char(ends at time zone zone, 'YYYY-MM-DD HH24:MI'), zone
      using errcode = 'PT429',
            detail = 'The limit counts per day; this day began in the time zone you had then.';
  end if;
  return used;
end
$$;

revoke execute on function public.take_daily_allowance(uuid, text, integer)
  from public, anon, authenticated, service_role;
