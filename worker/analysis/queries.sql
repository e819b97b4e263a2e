-- The analysis room's statements: what it reads of a person's week, and how it stores
-- the report. Called by name from worker/analysis/gather.py and store.py.

-- name: gather_profile_zone
-- A refresh's window ends now in the person's zone: the zone, read first. No e-mail.
select p.timezone
  from public.profiles p
 where p.user_id = %(user_id)s;

-- name: gather_profile_and_activity
-- The profile row first ('profile': name, zone, the week's last succeeded report's
-- input_hash and trigger), then every event of the local dates %(start_date)s to
-- %(end_date)s in the profile's zone: one row per event, one kind per source. The app keys
-- scans, symptoms and deep dives by a text user id (%(user_key)s, the uuid's text) and
-- messages by their conversation's owner; messages are counted, never read. The zone comes
-- from the profile in the same statement, so each event is kept by its own local date
-- (instant to local time, which every zone database agrees on); the instants %(lo)s to
-- %(hi)s bound each branch's range scan of its (person, time) index: a day wider than
-- any zone's for a whole week, the window's own for a refresh that ends now.
with profile as (
  select p.name, coalesce(p.timezone, 'UTC') as tz, g.input_hash, g.trigger
    from (select 1) as one
    left join public.profiles p on p.user_id = %(user_id)s
    left join lateral (
         select g.input_hash, g.trigger
           from public.analysis_generations g
          where g.user_id = %(user_id)s and g.week_of = %(week_of)s and g.status = 'succeeded'
            and g.trigger <> 'story'
          order by g.created_at desc
          limit 1) g on true
)
select 'profile' as source, null::date as day, pr.name, pr.tz as body_part,
       null::integer as severity, pr.input_hash as detail, pr.trigger as summary, null::uuid as ref,
       null::text as extra
  from profile pr
union all
select 'symptom', t.occurrence_date, t.symptom_name, t.body_part,
       t.severity, null, null, null, null
  from public.symptom_tracking t
 where t.user_id = %(user_key)s
   and t.occurrence_date between %(start_date)s and %(end_date)s
union all
select 'quick_scan', local.day, null, q.body_part,
       null, q.urgency_level, q.llm_summary, q.id, null
  from public.quick_scans q, profile pr,
       lateral (select (q.created_at at time zone pr.tz)::date as day) local
 where q.user_id = %(user_key)s
   and q.created_at >= %(lo)s and q.created_at < %(hi)s
   and local.day between %(start_date)s and %(end_date)s
union all
select 'deep_dive', local.day, null, d.body_part,
       null, d.status, d.llm_summary, d.id, null
  from public.deep_dive_sessions d, profile pr,
       lateral (select (d.created_at at time zone pr.tz)::date as day) local
 where d.user_id = %(user_key)s
   and d.created_at >= %(lo)s and d.created_at < %(hi)s
   and local.day between %(start_date)s and %(end_date)s
union all
select 'conversation', local.day, null, null,
       null, null, null, c.id, null
  from public.conversations c, profile pr,
       lateral (select (c.created_at at time zone pr.tz)::date as day) local
 where c.user_id = %(user_id)s
   and c.created_at >= %(lo)s and c.created_at < %(hi)s
   and local.day between %(start_date)s and %(end_date)s
union all
select 'message', local.day, null, null,
       null, m.role, null, m.conversation_id, null
  from public.conversations c
  join public.messages m on m.conversation_id = c.id
  cross join profile pr
  cross join lateral (select (m.created_at at time zone pr.tz)::date as day) local
 where c.user_id = %(user_id)s
   and m.created_at >= %(lo)s and m.created_at < %(hi)s
   and local.day between %(start_date)s and %(end_date)s
union all
select 'story', local.day, s.title, null,
       null, s.subtitle, s.story_text, s.id, s.data_sources ->> 'generated_by'
  from public.health_stories s, profile pr,
       lateral (select (s.generated_date at time zone pr.tz)::date as day) local
 where s.user_id = %(user_id)s
   and s.generated_date >= %(lo)s and s.generated_date < %(hi)s
   and local.day between %(start_date)s and %(end_date)s
union all
select 'note', local.day, null, null,
       null, null, n.note_text, n.story_id, null
  from public.story_notes n, profile pr,
       lateral (select (n.created_at at time zone pr.tz)::date as day) local
 where n.user_id = %(user_id)s
   and n.created_at >= %(lo)s and n.created_at < %(hi)s
   and local.day between %(start_date)s and %(end_date)s;

-- name: last_report_generation
-- The week's latest succeeded report (story generations write no report).
select g.input_hash, g.trigger
  from public.analysis_generations g
 where g.user_id = %(user_id)s and g.week_of = %(week_of)s and g.status = 'succeeded'
   and g.trigger <> 'story'
 order by g.created_at desc
 limit 1;

-- name: store_week
-- The whole person-week in one statement: the generation, the story when one was
-- written, and the four tables replaced (the delete sees the old rows only; all parts
-- share one snapshot). Given a job (job_id, job_owner, job_attempt), the same statement
-- finishes it (proxima_private.finish_job_in_statement), or fails with SQLSTATE PXL01,
-- writing nothing, when the attempt lost its lease: the week and the job's success commit
-- together, in one round trip. Without a job (job_id null) the caller's transaction
-- finishes it.
with generation as (
  insert into public.analysis_generations (
    user_id, week_of, status, trigger, provider, model, prompt_tokens, completion_tokens,
    cache_hit_tokens, round_trips, input_hash, duration_ms, period_start, period_end, time_zone, findings,
    completed_at
  )
  values (
    %(user_id)s, %(week_of)s, 'succeeded', %(trigger)s, %(provider)s, %(model)s, %(prompt_tokens)s,
    %(completion_tokens)s, %(cache_hit_tokens)s, %(round_trips)s, %(input_hash)s, %(duration_ms)s,
    %(period_start)s, %(period_end)s, %(time_zone)s, %(findings)s, now()
  )
  returning id
),
new_story as (
  insert into public.health_stories (user_id, title, subtitle, story_text, generated_date, date_range, data_sources)
  select %(user_id)s, s.title, s.subtitle, s.story_text, now(), s.date_range, s.data_sources
    from jsonb_to_record(%(story)s::jsonb) as s (
      title text, subtitle text, story_text text, date_range jsonb, data_sources jsonb
    )
   where %(story)s::jsonb is not null
  returning id
),
story as (
  select coalesce(%(story_id)s::uuid, (select id from new_story)) as id
),
gone_insights as (
  delete from public.health_insights where user_id = %(user_id)s and week_of = %(week_of)s
),
gone_predictions as (
  delete from public.health_predictions where user_id = %(user_id)s and week_of = %(week_of)s
),
gone_patterns as (
  delete from public.shadow_patterns where user_id = %(user_id)s and week_of = %(week_of)s
),
gone_moves as (
  delete from public.strategic_moves where user_id = %(user_id)s and week_of = %(week_of)s
),
insights as (
  insert into public.health_insights (
    user_id, story_id, insight_type, title, description, confidence, week_of, metadata, evidence, generation_id
  )
  select %(user_id)s, story.id, i.insight_type, i.title, i.description, i.confidence, %(week_of)s,
         coalesce(i.metadata, '{}'), coalesce(i.evidence, '[]'), generation.id
    from jsonb_to_recordset(%(insights)s::jsonb) as i (
      insight_type text, title text, description text, confidence integer, metadata jsonb, evidence jsonb
    ), story, generation
  returning 1
),
predictions as (
  insert into public.health_predictions (
    user_id, story_id, event_description, probability, timeframe, preventable, reasoning,
    suggested_actions, week_of, generation_id
  )
  select %(user_id)s, story.id, p.event_description, p.probability, p.timeframe, p.preventable,
         p.reasoning, coalesce(p.suggested_actions, '[]'), %(week_of)s, generation.id
    from jsonb_to_recordset(%(predictions)s::jsonb) as p (
      event_description text, probability integer, timeframe text, preventable boolean,
      reasoning text, suggested_actions jsonb
    ), story, generation
  returning 1
),
patterns as (
  insert into public.shadow_patterns (
    user_id, pattern_name, pattern_category, last_seen_description, significance,
    last_mentioned_date, days_missing, historical_frequency, week_of, generation_id
  )
  select %(user_id)s, s.pattern_name, s.pattern_category, s.last_seen_description, s.significance,
         s.last_mentioned_date, s.days_missing, coalesce(s.historical_frequency, '{}'), %(week_of)s,
         generation.id
    from jsonb_to_recordset(%(shadow_patterns)s::jsonb) as s (
      pattern_name text, pattern_category text, last_seen_description text, significance text,
      last_mentioned_date date, days_missing integer, historical_frequency jsonb
    ), generation
  returning 1
),
moves as (
  insert into public.strategic_moves (
    user_id, strategy, strategy_type, priority, rationale, expected_outcome, week_of, generation_id
  )
  select %(user_id)s, m.strategy, m.strategy_type, m.priority, m.rationale, m.expected_outcome,
         %(week_of)s, generation.id
    from jsonb_to_recordset(%(strategic_moves)s::jsonb) as m (
      strategy text, strategy_type text, priority integer, rationale text, expected_outcome text
    ), generation
  returning 1
)
select generation.id as generation_id,
       (select id from story) as story_id,
       (select count(*) from insights) as insights,
       (select count(*) from predictions) as predictions,
       (select count(*) from patterns) as shadow_patterns,
       (select count(*) from moves) as strategic_moves,
       proxima_private.finish_job_in_statement(%(job_id)s, %(job_owner)s, %(job_attempt)s) as job_finished
  from generation;

-- name: store_story
-- A story on demand: its generation and the story, nothing of the week's report. Run
-- inside the transaction that finishes the job.
with generation as (
  insert into public.analysis_generations (
    user_id, week_of, status, trigger, provider, model, prompt_tokens, completion_tokens,
    cache_hit_tokens, round_trips, duration_ms, period_start, period_end, time_zone, completed_at
  )
  values (
    %(user_id)s, %(week_of)s, 'succeeded', 'story', %(provider)s, %(model)s, %(prompt_tokens)s,
    %(completion_tokens)s, %(cache_hit_tokens)s, %(round_trips)s, %(duration_ms)s,
    %(period_start)s, %(period_end)s, %(time_zone)s, now()
  )
  returning id
)
insert into public.health_stories (user_id, title, subtitle, story_text, generated_date, date_range, data_sources)
select %(user_id)s, s.title, s.subtitle, s.story_text, now(), s.date_range, s.data_sources
  from jsonb_to_record(%(story)s::jsonb) as s (
    title text, subtitle text, story_text text, date_range jsonb, data_sources jsonb
  ), generation
returning id as story_id, (select id from generation) as generation_id;

-- name: record_failed_generation
-- The audit trail keeps failures too, in their own transaction: the person's week
-- itself is untouched.
insert into public.analysis_generations (
  user_id, week_of, status, trigger, provider, model, prompt_tokens, completion_tokens,
  cache_hit_tokens, round_trips, duration_ms, error, completed_at
)
values (
  %(user_id)s, %(week_of)s, 'failed', %(trigger)s, %(provider)s, %(model)s, %(prompt_tokens)s,
  %(completion_tokens)s, %(cache_hit_tokens)s, %(round_trips)s, %(duration_ms)s, %(error)s, now()
);
