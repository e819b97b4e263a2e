-- The export room's statements: what a PDF export reads of a person's stories and
-- analysis, and how it records the finished file. Called by name from the export_pdf
-- job's handler, which runs as the worker (no row-level security): every query that
-- reads a person's rows filters by the export's user_id itself.
--
-- Dates come back as dates, never as text, so nothing depends on the session's
-- DateStyle. A "week" is the Monday that starts it, as everywhere in the report tables.

-- name: get_export
-- The export the job's payload names. Only PDF exports: a doctor share is never
-- rendered by this handler.
select id, user_id, story_ids, metadata, status
  from public.export_history
 where id = %(export_id)s
   and export_type = 'pdf';

-- name: export_profile
-- The name printed on the report and the time zone its weeks are computed in. Always
-- one row: without a profile, no name and UTC (as public.user_week_of assumes).
select p.name as display_name,
       coalesce(p.timezone, 'UTC') as timezone
  from (select %(user_id)s::uuid as user_id) who
  left join public.profiles p on p.user_id = who.user_id;

-- name: export_stories
-- The chosen stories in the order they were chosen, each with the Monday of the week
-- it was written in (in the person's time zone, tz), the local day it was written, the
-- date range it recorded (jsonb as stored: the worker reads it, since the app's rows may
-- hold anything there) and its notes, oldest first. A story that is not the person's, or
-- was deleted since the request, is left out.
select s.id,
       s.title,
       s.subtitle,
       s.story_text,
       s.generated_date,
       (s.generated_date at time zone %(tz)s)::date as written_on,
       s.date_range,
       date_trunc('week', s.generated_date at time zone %(tz)s)::date as week_of,
       coalesce((
         select jsonb_agg(n.note_text order by n.created_at, n.id)
           from public.story_notes n
          where n.story_id = s.id
            and n.user_id = %(user_id)s
       ), '[]'::jsonb) as notes
  from unnest(%(story_ids)s::uuid[]) with ordinality as chosen (id, ord)
  join public.health_stories s on s.id = chosen.id and s.user_id = %(user_id)s
 order by chosen.ord;

-- name: export_analysis
-- One row per distinct week asked for, oldest first, with the four lists of that
-- week's stored analysis; a week without analysis has four empty lists. Orders follow
-- public.get_health_analysis: insights by confidence, predictions by probability
-- (highest first), shadow patterns by significance (high, medium, low) then the one
-- missing longest, strategic moves by priority (10 first); unrated rows last, then
-- oldest first.
select w.week_of,
       (covered.period_start at time zone covered.time_zone)::date as covers_start,
       ((covered.period_end at time zone covered.time_zone) - interval '1 microsecond')::date as covers_end,
       covered.time_zone,
       coalesce((select jsonb_agg(f ->> 'sentence') from jsonb_array_elements(covered.findings) f), '[]'::jsonb)
         as findings,
       coalesce((
         select jsonb_agg(
                  jsonb_build_object(
                    'insight_type', i.insight_type,
                    'title', i.title,
                    'description', i.description,
                    'confidence', i.confidence
                  )
                  order by i.confidence desc nulls last, i.created_at, i.id
                )
           from public.health_insights i
          where i.user_id = %(user_id)s and i.week_of = w.week_of
       ), '[]'::jsonb) as insights,
       coalesce((
         select jsonb_agg(
                  jsonb_build_object(
                    'event_description', p.event_description,
                    'probability', p.probability,
                    'timeframe', p.timeframe,
                    'preventable', p.preventable,
                    'reasoning', p.reasoning
                  )
                  order by p.probability desc nulls last, p.created_at, p.id
                )
           from public.health_predictions p
          where p.user_id = %(user_id)s and p.week_of = w.week_of
       ), '[]'::jsonb) as predictions,
       coalesce((
         select jsonb_agg(
                  jsonb_build_object(
                    'pattern_name', sp.pattern_name,
                    'significance', sp.significance,
                    'last_seen_description', sp.last_seen_description,
                    'last_mentioned_date', sp.last_mentioned_date,
                    'days_missing', sp.days_missing
                  )
                  order by case sp.significance when 'high' then 1 when 'medium' then 2
                                                when 'low' then 3 else 4 end,
                           sp.days_missing desc nulls last, sp.created_at, sp.id
                )
           from public.shadow_patterns sp
          where sp.user_id = %(user_id)s and sp.week_of = w.week_of
       ), '[]'::jsonb) as shadow_patterns,
       coalesce((
         select jsonb_agg(
                  jsonb_build_object(
                    'strategy', m.strategy,
                    'strategy_type', m.strategy_type,
                    'priority', m.priority,
                    'rationale', m.rationale,
                    'completion_status', m.completion_status
                  )
                  order by m.priority desc nulls last, m.created_at, m.id
                )
           from public.strategic_moves m
          where m.user_id = %(user_id)s and m.week_of = w.week_of
       ), '[]'::jsonb) as strategic_moves
  from (select distinct unnest(%(weeks)s::date[]) as week_of) w
  -- The days the week's latest report covered (reports written before periods were
  -- recorded have none).
  left join lateral (
    select g.period_start, g.period_end, g.time_zone, g.findings
      from public.analysis_generations g
     where g.user_id = %(user_id)s and g.week_of = w.week_of and g.status = 'succeeded'
       and g.trigger <> 'story' and g.period_start is not null
     order by g.created_at desc
     limit 1
  ) covered on true
 where w.week_of is not null
 order by w.week_of;

-- name: export_symptom_series
-- The chart: over the weeks asked for (Mondays), each series' count and average severity
-- (1 decimal) in each of those weeks, zero and null in a week without it, so every series
-- has one point per week. With at most `series` symptoms each is a series; with more,
-- the `series` - 1 logged most often are, and the rest are summed as one last series
-- (symptom_name null, other_symptoms = how many it sums). Spellings that differ only in
-- case (or surrounding spaces) are one symptom, shown under its most common spelling. A
-- symptom's week is the Monday of its occurrence_date, which is already the person's own
-- calendar date: no time zone applies (a tz parameter, if passed, is ignored). Rows: by
-- series (most logged first), then by week.
with weeks as (
  select distinct w.week_of
    from unnest(%(weeks)s::date[]) as w (week_of)
   where w.week_of is not null
),
logged as (
  select lower(btrim(t.symptom_name)) as symptom_key,
         btrim(t.symptom_name) as spelling,
         t.occurrence_date - (extract(isodow from t.occurrence_date)::integer - 1) as week_of,
         t.severity
    from public.symptom_tracking t
   where t.user_id = %(user_id)s::uuid::text  -- the app keys symptoms by the id's text
     and t.occurrence_date >= (select min(weeks.week_of) from weeks)
     and t.occurrence_date < (select max(weeks.week_of) from weeks) + 7
),
in_weeks as (
  select logged.*
    from logged
    join weeks on weeks.week_of = logged.week_of
),
spellings as (
  select symptom_key, spelling, count(*) as uses
    from in_weeks
   group by symptom_key, spelling
),
ranked as (
  select symptom_key,
         (array_agg(spelling order by uses desc, spelling))[1] as symptom_name,
         row_number() over (order by sum(uses) desc, symptom_key) as rank,
         count(*) over () as symptoms
    from spellings
   group by symptom_key
),
slots as (
  select symptom_key,
         least(rank, %(series)s) as slot,
         case when symptoms <= %(series)s or rank < %(series)s then symptom_name end as symptom_name,
         case when symptoms <= %(series)s or rank < %(series)s then 0
              else symptoms - %(series)s + 1 end as other_symptoms
    from ranked
),
series as (
  select slot, max(symptom_name) as symptom_name, max(other_symptoms) as other_symptoms
    from slots
   group by slot
)
select series.symptom_name,
       series.other_symptoms::integer as other_symptoms,
       weeks.week_of,
       count(in_weeks.symptom_key)::integer as count,
       round(avg(in_weeks.severity)::numeric, 1) as avg_severity
  from series
 cross join weeks
  join slots on slots.slot = series.slot
  left join in_weeks on in_weeks.symptom_key = slots.symptom_key and in_weeks.week_of = weeks.week_of
 group by series.slot, series.symptom_name, series.other_symptoms, weeks.week_of
 order by series.slot, weeks.week_of;

-- name: mark_export_ready
-- In the transaction that finishes the job. Only a pending export: one that failed
-- meanwhile, or was already marked, is left as it is (no row returned).
update public.export_history
   set status = 'ready',
       storage_path = %(storage_path)s,
       file_size_bytes = %(size)s,
       error = null,
       completed_at = now()
 where id = %(export_id)s
   and status = 'pending'
returning id;

-- name: act_as_user
-- For the command line and the demo: make the rest of this transaction a request by
-- that signed-in person, as PostgREST does, so request_pdf_export applies its checks.
select set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', %(claims)s, true);

-- name: request_pdf_export
select public.request_pdf_export(%(story_ids)s::uuid[], %(include_analysis)s, %(include_notes)s);

-- name: export_status
select status, storage_path, file_size_bytes, error
  from public.export_history
 where id = %(export_id)s;

-- name: user_story_ids
-- A person's stories, oldest first (the command line's default selection).
select s.id
  from public.health_stories s
 where s.user_id = %(user_id)s
 order by s.generated_date, s.id;
