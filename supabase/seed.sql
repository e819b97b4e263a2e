-- Local development seed (`supabase db reset` applies it after the migrations):
-- one person with a profile in their own time zone and a first story, so the
-- frontend has something to show. The demo command seeds its own, richer data.

insert into auth.users (id, email, raw_user_meta_data, created_at)
values ('00000000-0000-4000-8000-00000000a001', 'demo@proxima.local', '{"name": "Ada Demo"}', now())
on conflict (id) do nothing;

insert into public.profiles (user_id, name, email, timezone)
values ('00000000-0000-4000-8000-00000000a001', 'Ada Demo', 'demo@proxima.local', 'Europe/Berlin')
on conflict (user_id) do nothing;

insert into public.health_stories (id, user_id, title, subtitle, story_text, generated_date, date_range, data_sources)
values (
  '00000000-0000-4000-8000-00000000b001',
  '00000000-0000-4000-8000-00000000a001',
  'A steadier week',
  'Sleep settled and the afternoon headaches eased',
  'You logged three quick scans this week. The tension headaches that showed up most afternoons '
  'last week came back only once, on Wednesday, after a long day at the screen.',
  now(),
  jsonb_build_object('start', (date_trunc('week', now()))::date, 'end', (date_trunc('week', now()) + interval '6 days')::date),
  '{"quick_scans": 3, "deep_dives": 0, "oracle_chats": 1}'
)
on conflict (id) do nothing;
