-- Demo data: people and five weeks of their activity. Called by name from
-- worker/demo/seed.py; every statement takes its values as parameters.

-- name: insert_user
insert into auth.users (id, email, raw_user_meta_data)
values (%(id)s, %(email)s, jsonb_build_object('name', %(name)s::text))
on conflict (id) do nothing;

-- name: insert_profile
insert into public.profiles (user_id, name, email, timezone)
values (%(id)s, %(name)s, %(email)s, %(timezone)s)
on conflict (user_id) do update set name = excluded.name, timezone = excluded.timezone;

-- The app keys scans, symptoms and deep dives by the user id's text.

-- name: insert_symptom
insert into public.symptom_tracking (user_id, symptom_name, body_part, severity, occurrence_date, created_at)
values (%(user_id)s::text, %(symptom_name)s, %(body_part)s, %(severity)s, %(day)s, %(at)s);

-- name: insert_quick_scan
insert into public.quick_scans (user_id, body_part, form_data, analysis_result, confidence_score, urgency_level,
                                llm_summary, created_at)
values (%(user_id)s::text, %(body_part)s, '{}', '{}', %(confidence)s, %(urgency)s, %(summary)s, %(at)s);

-- name: insert_deep_dive
insert into public.deep_dive_sessions (user_id, body_part, status, final_analysis, final_confidence, llm_summary,
                                       created_at, completed_at)
values (%(user_id)s::text, %(body_part)s, 'completed', '{}', %(confidence)s, %(summary)s, %(at)s, %(at)s);

-- name: insert_conversation
insert into public.conversations (user_id, title, created_at)
values (%(user_id)s, %(title)s, %(at)s)
returning id;

-- name: insert_message
-- A message belongs to its conversation (and through it to the person).
insert into public.messages (conversation_id, role, content, created_at)
values (%(conversation_id)s, %(role)s, %(content)s, %(at)s);

-- name: insert_story
insert into public.health_stories (user_id, title, subtitle, story_text, generated_date, date_range, data_sources,
                                   created_at)
values (%(user_id)s, %(title)s, %(subtitle)s, %(story_text)s, %(at)s, %(date_range)s, '{}', %(at)s)
returning id;

-- name: insert_note
insert into public.story_notes (story_id, user_id, note_text, created_at, updated_at)
values (%(story_id)s, %(user_id)s, %(note_text)s, %(at)s, %(at)s);

-- name: enqueue_weekly
select public.enqueue_weekly_analysis();

-- name: job_progress
select count(*) filter (where status = 'succeeded') as done,
       count(*) filter (where status = 'failed') as failed,
       count(*) as total
  from public.jobs
 where kind = 'weekly_analysis';

-- name: read_analysis
select public.get_health_analysis();

-- name: read_story
select s.title, s.subtitle, s.story_text
  from public.health_stories s
 where s.id = %(story_id)s;

-- name: read_generation
select g.provider, g.model, g.round_trips, g.prompt_tokens, g.cache_hit_tokens, g.duration_ms
  from public.analysis_generations g
 where g.id = %(generation_id)s;
