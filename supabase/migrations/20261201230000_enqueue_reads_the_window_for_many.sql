-- A run that reads most people in full reads the 28 days' writers once, not each person's
-- sources one probe after another.
--
-- The first run (every zone read in full) probed each of 111,000 people's seven sources in
-- turn, up to the first row found. Reading once who wrote anything in the 28 days (each
-- source by time: its index, or the whole table where the window is most of it) and keeping
-- the people among them does the same work as a hash: the full run 4,533 -> 3,587 ms,
-- 1.26x, and 1.46x with ten times the history (bench/enqueue_ab.py --step full [--history
-- 10], the two functions' migrations each run in its rounds). The window's rows follow how
-- many people are active, not the history's length, so neither way grows with history; the
-- probes cost per person read, the window read per row in the window. A run reads the
-- window when the people of the zones it reads in full (those without a profile too, when
-- UTC is read in full) are at least a quarter of everyone: in the bench the window, about
-- four rows a person, costs about what probing a quarter of everyone does (under EXPLAIN
-- ANALYZE, bench/enqueue_ab.py --step full --explain: 0.54 s for the window's writers,
-- 2.2 s to probe 111,000 people). One zone's hour (4,000 of 111,000 people) still probes.
--
-- The jobs each person-week already has are probed in the inserting select itself, not
-- gathered first and joined back by key (a sort of every key by text, and a merge join):
-- side by side with the form above, 3,638 -> 3,521 ms for the full run (9 rounds) and
-- 284 -> 249 ms for one zone's hour (15 rounds), bench/enqueue_ab.py.
--
-- Everything else is as in 20261201160000_enqueue_probes_earlier_jobs_by_key.sql.

create or replace function public.enqueue_weekly_analysis(week_of date default null, as_of timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = ''
-- Each statement below is planned with this call's values (the zones read in full, the
-- time since which covered zones are read), never with a generic plan that would have
-- to be ready for every zone being read in full.
set plan_cache_mode = 'force_custom_plan'
-- A full run's estimated cost is high enough for JIT compilation, which costs seconds
-- (inlining and optimising ~100 functions) for a statement that runs in less.
set jit = 'off'
-- The person-weeks of a full run are held in memory, not in temporary files.
set work_mem = '64MB'
-- The analyze after a large batch (below) samples 3,000 rows, not 30,000.
set default_statistics_target = 10
-- Every job this function inserts is for a person read from auth.users or from a profile
-- (whose user_id references auth.users) by the inserting statement itself: the jobs'
-- trigger need not look each one up again.
set proxima.job_people_read = 'on'
as $$
declare
  since timestamptz := enqueue_weekly_analysis.as_of - interval '28 days';
  since_day date := ((enqueue_weekly_analysis.as_of - interval '28 days') at time zone 'UTC')::date;
  hourly boolean := enqueue_weekly_analysis.week_of is null;
  -- Rows written by transactions that were still open when a mark was taken carry a
  -- time up to this much before it.
  open_margin constant interval := interval '1 hour';
  zone_list text[];
  week_list date[];
  begun_list boolean[];
  next_list timestamptz[];
  full_zones text[];
  utc_in_full boolean;
  written_since timestamptz;
  -- Whether every row written since written_since lies in the 28 days before as_of.
  recent boolean;
  inserted integer;
  not_begun integer;
  -- Whether the people of the zones read in full are read from the window's writers.
  read_window boolean := false;
  everyone real;
  with_profile real;
  in_full real;
begin
  if enqueue_weekly_analysis.week_of is not null
     and extract(isodow from enqueue_weekly_analysis.week_of) <> 1 then
    raise exception 'week_of must be a Monday; % is a %',
      to_char(enqueue_weekly_analysis.week_of, 'YYYY-MM-DD'),
      to_char(enqueue_weekly_analysis.week_of, 'FMDay')
      using errcode = '22023';
  end if;

  -- Concurrent calls take turns, so each one's insert sees the jobs (and marks) of the
  -- one before it even if those have already finished.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('public.enqueue_weekly_analysis'));

  -- The zones: each one's week, whether it has begun, and whether an earlier hourly run
  -- covered it for that week (then only what was written since that run is read).
  with recursive profile_zones(zone) as (
    -- Distinct zones by skipping through the (timezone, user_id) index.
    (select p.timezone from public.profiles p order by p.timezone limit 1)
    union all
    select (select p.timezone from public.profiles p
            where p.timezone > pz.zone order by p.timezone limit 1)
    from profile_zones pz
    where pz.zone is not null
  ),
  zone_names(zone) as (
    select pz.zone from profile_zones pz where pz.zone is not null
    union
    select 'UTC'
  ),
  -- Each zone's mark. An hourly run at or after the mark's moment and before the zone's
  -- next week begins (next_week_at) is within the mark's week: the zone's clock is not
  -- read. A new session loads a zone's rules on the first clock read (about 0.16 ms a
  -- zone: 64 ms for 400 zones, every hour, as pg_cron starts a new session each time), so
  -- only the zones whose week may have turned are read.
  marked_zones as (
    select zn.zone, m.week_of as mark_week, m.as_of as mark_as_of, m.ran_at as mark_ran_at,
           m.next_week_at as mark_next_week_at,
           coalesce(hourly
                    and m.as_of <= enqueue_weekly_analysis.as_of
                    and enqueue_weekly_analysis.as_of < m.next_week_at, false) as same_week
    from zone_names zn
    left join proxima_private.weekly_enqueue_marks m on m.zone = zn.zone
  ),
  zone_clock as (
    select mz.*,
           case when not mz.same_week
                then (enqueue_weekly_analysis.as_of at time zone mz.zone) end as local_at
    from marked_zones mz
  ),
  zone_weeks as (
    select zc.*,
           case
             when zc.same_week then zc.mark_week
             else coalesce(
               enqueue_weekly_analysis.week_of,
               case
                 when zc.local_at >= pg_catalog.date_trunc('week', zc.local_at) + interval '6 hours'
                 then pg_catalog.date_trunc('week', zc.local_at)::date
                 else pg_catalog.date_trunc('week', zc.local_at)::date - 7
               end)
           end as week,
           (zc.same_week or enqueue_weekly_analysis.week_of is null
            or zc.local_at >= enqueue_weekly_analysis.week_of) as begun
    from zone_clock zc
  ),
  zones as (
    select zw.zone, zw.week, zw.begun,
           coalesce(hourly and zw.mark_week = zw.week and zw.mark_as_of <= enqueue_weekly_analysis.as_of, false)
             as covered,
           least(zw.mark_as_of, zw.mark_ran_at) - open_margin as mark_since,
           -- Hourly runs only (they write the marks): the instant the zone's next week
           -- begins, its Monday 06:00, kept from the mark within the mark's week.
           case
             when not hourly then null
             when zw.same_week then zw.mark_next_week_at
             else ((zw.week + 7)::timestamp + interval '6 hours') at time zone zw.zone
           end as next_week_at
    from zone_weeks zw
  )
  select array_agg(z.zone order by z.zone),
         array_agg(z.week order by z.zone),
         array_agg(z.begun order by z.zone),
         array_agg(z.next_week_at order by z.zone),
         coalesce(array_agg(z.zone order by z.zone) filter (where not z.covered), '{}'),
         coalesce(bool_or(z.zone = 'UTC' and not z.covered), false),
         min(z.mark_since) filter (where z.covered)
    into zone_list, week_list, begun_list, next_list, full_zones, utc_in_full, written_since
  from zones z;

  recent := coalesce(written_since >= since, false);

  -- Many people to read in full (a first run, an explicit week, many zones' Monday at
  -- once): read who wrote in the 28 days once instead of probing each person. The people
  -- of the zones read in full are counted through (timezone, user_id), and when UTC is
  -- read in full the people without a profile (read as UTC's) are added: everyone less
  -- those with a profile, both from the statistics, or counted where there are none yet.
  if pg_catalog.cardinality(full_zones) > 0 then
    select c.reltuples into everyone from pg_catalog.pg_class c where c.oid = 'auth.users'::regclass;
    if everyone is null or everyone < 0 then
      select count(*) into everyone from auth.users;
    end if;
    in_full := (select count(*) from public.profiles p where p.timezone = any (full_zones));
    if utc_in_full then
      select c.reltuples into with_profile from pg_catalog.pg_class c where c.oid = 'public.profiles'::regclass;
      if with_profile is null or with_profile < 0 then
        select count(*) into with_profile from public.profiles;
      end if;
      in_full := in_full + greatest(everyone - with_profile, 0);
    end if;
    read_window := 4 * in_full >= everyone;
  end if;

  -- One statement, so the jobs' NOTIFY trigger wakes the workers once for the batch,
  -- and the marks move with the jobs.
  -- Each zone's week as text and its jobs' payload are built once per zone, not per job.
  -- to_char, not ::text, so the key does not depend on the session's DateStyle.
  with zones(zone, week, begun, next_week_at, week_text, payload) as (
    select z.zone, z.week, z.begun, z.next_week_at, to_char(z.week, 'YYYY-MM-DD'),
           jsonb_build_object('week_of', to_char(z.week, 'YYYY-MM-DD'), 'force', false, 'trigger', 'weekly')
    from rows from (pg_catalog.unnest(zone_list), pg_catalog.unnest(week_list), pg_catalog.unnest(begun_list),
                    pg_catalog.unnest(next_list))
      as z(zone, week, begun, next_week_at)
  ),
  -- Zones read in full: each of their people (no profile: UTC).
  full_people(user_id, zone) as (
    select p.user_id, p.timezone
    from public.profiles p
    where p.timezone = any (full_zones)
    union all
    select u.id, 'UTC'
    from auth.users u
    where utc_in_full
      and not exists (select 1 from public.profiles p where p.user_id = u.id)
  ),
  -- Covered zones: whoever wrote something since the mark (null when no zone is
  -- covered: nothing is read). Text ids become uuids only when they have a uuid's shape
  -- and belong to a signed-up person. A row written since the mark that is itself
  -- activity makes its writer active without a probe: any row of a source by its time
  -- when the mark lies within the 28 days (`recent`, always so for a mark of the same
  -- due week), a symptom by its own occurrence_date. A profile written since, or a
  -- failed job, only says whom to probe.
  written(user_key, active) as (
    select s.user_id::text, recent
    from public.health_stories s where s.created_at >= written_since
    union all
    select n.user_id::text, recent
    from public.story_notes n where n.created_at >= written_since
    union all
    select q.user_id, recent
    from public.quick_scans q where q.created_at >= written_since
    union all
    select t.user_id, t.occurrence_date >= since_day
    from public.symptom_tracking t where t.created_at >= written_since
    union all
    select d.user_id, recent
    from public.deep_dive_sessions d where d.created_at >= written_since
    union all
    select c.user_id::text, recent
    from public.conversations c where c.created_at >= written_since
    union all
    select c.user_id::text, recent
    from public.messages m
    join public.conversations c on c.id = m.conversation_id
    where m.created_at >= written_since
    union all
    select p.user_id::text, false from public.profiles p where p.updated_at >= written_since
    union all
    select j.user_id::text, false
    from public.jobs j
    where j.kind = 'weekly_analysis' and j.status = 'failed' and j.updated_at >= written_since
  ),
  written_by(user_key, active) as (
    select w.user_key, bool_or(w.active) from written w group by w.user_key
  ),
  changed_people(user_id, zone, known_active) as (
    select u.id, coalesce(p.timezone, 'UTC'), bool_or(w.active)
    from written_by w
    join auth.users u
      on u.id = case
                  -- A uuid's shape: 36 characters, hex digits and dashes only, the dashes
                  -- at 9, 14, 19 and 24 and nowhere else (what the pattern
                  -- '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' matches,
                  -- case-insensitively, at a third of its cost: bounded repetitions are
                  -- slow in PostgreSQL's regular expressions).
                  when pg_catalog.length(w.user_key) = 36
                   and w.user_key ~ '^[-0-9A-Fa-f]+$'
                   and pg_catalog.substr(w.user_key, 9, 1) = '-'
                   and pg_catalog.substr(w.user_key, 14, 1) = '-'
                   and pg_catalog.substr(w.user_key, 19, 1) = '-'
                   and pg_catalog.substr(w.user_key, 24, 1) = '-'
                   and pg_catalog.length(pg_catalog.replace(w.user_key, '-', '')) = 32
                  then w.user_key::uuid
                end
    left join public.profiles p on p.user_id = u.id
    where coalesce(p.timezone, 'UTC') <> all (full_zones)
    group by u.id, coalesce(p.timezone, 'UTC')
  ),
  -- Who wrote anything in the 28 days, as the probes below match them (the text-keyed
  -- sources by lower(user_id)), read only when the zones read in full are many.
  window_writers(user_key) as (
    select pg_catalog.lower(t.user_id)
    from public.symptom_tracking t where read_window and t.occurrence_date >= since_day
    union all
    select pg_catalog.lower(q.user_id)
    from public.quick_scans q where read_window and q.created_at >= since
    union all
    select s.user_id::text
    from public.health_stories s where read_window and s.created_at >= since
    union all
    select n.user_id::text
    from public.story_notes n where read_window and n.created_at >= since
    union all
    select pg_catalog.lower(d.user_id)
    from public.deep_dive_sessions d where read_window and d.created_at >= since
    union all
    select c.user_id::text
    from public.conversations c where read_window and c.created_at >= since
    union all
    select c.user_id::text
    from public.messages m
    join public.conversations c on c.id = m.conversation_id
    where read_window and m.created_at >= since
  ),
  -- Whom to probe one by one: the people of the zones read in full unless the window is
  -- read, and the writers of covered zones whose new rows did not show them active.
  people(user_id, zone) as (
    select fp.user_id, fp.zone from full_people fp where not read_window
    union all
    select cp.user_id, cp.zone from changed_people cp where not cp.known_active
  ),
  -- Active: a row in any source in the 28 days before as_of. Per person, one index range
  -- probe on (user, time) after another, stopping at the first row found (LIMIT 1 over
  -- UNION ALL), so the cost follows the people read, never the size of the window or of
  -- the history. The text-keyed tables by lower(user_id), which equals the uuid's text
  -- exactly when the old shape-and-cast match held. Writers known active from their rows
  -- are not probed again.
  active(user_id, zone) as (
    select cp.user_id, cp.zone from changed_people cp where cp.known_active
    union all
    select fp.user_id, fp.zone
    from full_people fp
    where read_window and fp.user_id::text in (select ww.user_key from window_writers ww)
    union all
    select pe.user_id, pe.zone
    from people pe
    cross join lateral (
      select 1 from public.symptom_tracking t
      where pg_catalog.lower(t.user_id) = pe.user_id::text and t.occurrence_date >= since_day
      union all
      select 1 from public.quick_scans q
      where pg_catalog.lower(q.user_id) = pe.user_id::text and q.created_at >= since
      union all
      select 1 from public.health_stories s
      where s.user_id = pe.user_id and s.created_at >= since
      union all
      select 1 from public.story_notes n
      where n.user_id = pe.user_id and n.created_at >= since
      union all
      select 1 from public.deep_dive_sessions d
      where pg_catalog.lower(d.user_id) = pe.user_id::text and d.created_at >= since
      union all
      select 1 from public.conversations c
      where c.user_id = pe.user_id and c.created_at >= since
      union all
      select 1 from public.conversations c
      join public.messages m on m.conversation_id = c.id
      where c.user_id = pe.user_id and m.created_at >= since
      limit 1
    ) found
  ),
  wanted as (
    select a.user_id, z.week, z.begun, z.week_text, z.payload
    from active a
    join zones z on z.zone = a.zone
  ),
  keyed as (
    select w.user_id, w.week, w.payload,
           'weekly_analysis:' || w.user_id || ':' || w.week_text as dedupe_key
    from wanted w
    where w.begun
  ),
  -- Each wanted person-week with the jobs its key already has, in any status (the unique
  -- index covers only unfinished ones): one probe of (user_id, dedupe_key) per key, always
  -- (as a join, the planner hashed the whole queue, history included, once it guessed a few
  -- thousand keys). No probe sees this statement's own rows, which are not in its
  -- snapshot, whatever the order of probes and inserts (the sort below puts every probe first).
  added as (
    insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
    select 'weekly_analysis',
           k.user_id,
           k.payload,
           0,
           k.dedupe_key
    from keyed k
    cross join lateral (
      select count(*) as jobs, count(*) filter (where j.status = 'failed') as failed
      from public.jobs j
      where j.user_id = k.user_id and j.dedupe_key = k.dedupe_key
    ) e
    where e.jobs = 0 or (e.jobs = 1 and e.failed = 1)
    -- In the person's order, which is also the keys' order: each row's entries go next
    -- to the previous row's in the indexes by key and by person, not to a random page.
    --
    -- No ON CONFLICT: the probes have read every job of these keys, and whatever else makes a
    -- job of a weekly key unfinished (retry-failed) takes this function's lock first, so
    -- no conflict can arise; jobs_dedupe_unfinished_idx would still refuse one. An
    -- arbiter made every row a speculative insertion (one more probe of that index and a
    -- WAL record to confirm it): 0.91x the zone's hour without it (bench/enqueue_ab.py).
    order by k.user_id
    returning 1
  ),
  -- Hourly runs only: every zone is now covered for its week at as_of. (A data-modifying
  -- WITH runs to completion whether or not anything reads it.)
  marked as (
    insert into proxima_private.weekly_enqueue_marks as m (zone, week_of, as_of, ran_at, next_week_at)
    select z.zone, z.week, enqueue_weekly_analysis.as_of, now(), z.next_week_at
    from zones z
    where hourly
    on conflict (zone) do update
      set week_of = excluded.week_of, as_of = excluded.as_of, ran_at = excluded.ran_at,
          next_week_at = excluded.next_week_at
  )
  select (select count(*) from added), (select count(*) from wanted w where not w.begun)
    into inserted, not_begun;

  if not_begun > 0 then
    raise notice 'the week of % has not begun yet for % people: no jobs for them',
      to_char(enqueue_weekly_analysis.week_of, 'YYYY-MM-DD'), not_begun;
  end if;

  -- A batch of thousands of jobs that changes the queue's size by a tenth or more makes
  -- its statistics stale at once; fresh ones keep every claim an index scan instead of a
  -- scan and sort of the whole batch. Smaller batches (one zone's hour) are left to
  -- autovacuum, which analyzes jobs after 2% of it changed. A claim's plan needs how many
  -- rows are queued, of which kinds, not fine histograms: the function's statistics target
  -- of 10 takes 48 ms where the default 100 took 740 over 400,000 jobs
  -- (bench/results/enqueue_scale.md); autovacuum's own analyze comes back to the default.
  if inserted >= 1000
     and inserted >= 0.1 * (select greatest(c.reltuples, 0) from pg_catalog.pg_class c
                            where c.oid = 'public.jobs'::regclass) then
    analyze public.jobs;
  end if;
  return inserted;
end
$$;

revoke execute on function public.enqueue_weekly_analysis(date, timestamptz) from public, anon, authenticated;
grant execute on function public.enqueue_weekly_analysis(date, timestamptz) to service_role;
