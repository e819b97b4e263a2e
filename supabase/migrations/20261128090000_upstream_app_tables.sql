-- The app's own tables that the weekly analysis reads: stories and their notes,
-- quick scans, tracked symptoms, deep dives, oracle chats and profiles.
--
-- In a project where the app already created them, `if not exists` leaves them as
-- they are; what this migration adds everywhere is the profile's IANA time zone
-- (the user's week is computed in it) and row-level security that lets each person
-- read only their own rows. Writes come from the app's backend (service role),
-- except the person's own notes and profile settings.

-- A time zone is valid when it is an IANA zone name PostgreSQL knows ('Europe/Berlin',
-- 'UTC'). Abbreviations ('PST') and POSIX strings ('UTC+10', which PostgreSQL reads with
-- the sign inverted) are refused by their shape, unknown names by PostgreSQL itself.
-- Checking the shape and converting a timestamp costs microseconds, where scanning
-- pg_timezone_names reads the zone files on every call. Declared immutable so a CHECK
-- may use it: the zone names a database knows only ever grow.
create or replace function public.is_valid_time_zone(zone text)
returns boolean
language plpgsql immutable
set search_path = ''
as $$
begin
  if zone is null
     or zone !~ '^(UTC|GMT|[A-Z][A-Za-z_-]+(/[A-Za-z0-9_+-]+)+)$'
     or zone ~ '^(posix|right)/' then
    return false;
  end if;
  perform pg_catalog.now() at time zone zone;
  return true;
exception when invalid_parameter_value then
  return false;
end
$$;

create table if not exists public.profiles (
  user_id uuid primary key references auth.users (id) on delete cascade,
  name text,
  email text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.profiles add column if not exists timezone text not null default 'UTC';

do $$
begin
  if not exists (
    select 1 from pg_constraint
    where conrelid = 'public.profiles'::regclass and conname = 'profiles_timezone_is_iana'
  ) then
    alter table public.profiles
      add constraint profiles_timezone_is_iana check (public.is_valid_time_zone(timezone));
  end if;
end
$$;

create table if not exists public.health_stories (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  title text,
  subtitle text,
  story_text text not null,
  generated_date timestamptz not null default now(),
  date_range jsonb,
  data_sources jsonb,
  created_at timestamptz not null default now()
);
create index if not exists idx_health_stories_user_generated
  on public.health_stories (user_id, generated_date desc);

create table if not exists public.story_notes (
  id uuid primary key default gen_random_uuid(),
  story_id uuid not null references public.health_stories (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  note_text text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists idx_story_notes_user on public.story_notes (user_id);
create index if not exists idx_story_notes_story on public.story_notes (story_id);

create table if not exists public.quick_scans (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  body_part text,
  form_data jsonb,
  analysis_result jsonb,
  confidence_score numeric,
  urgency_level text,
  llm_summary text,
  created_at timestamptz not null default now()
);
create index if not exists idx_quick_scans_user_created on public.quick_scans (user_id, created_at desc);

create table if not exists public.symptom_tracking (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  symptom_name text not null,
  body_part text,
  severity integer check (severity >= 1 and severity <= 10),
  occurrence_date date not null default current_date,
  quick_scan_id uuid references public.quick_scans (id) on delete set null,
  created_at timestamptz not null default now()
);
create index if not exists idx_symptom_tracking_user_date
  on public.symptom_tracking (user_id, occurrence_date desc);

create table if not exists public.deep_dive_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  body_part text,
  status text not null default 'active',
  final_analysis jsonb,
  final_confidence numeric,
  llm_summary text,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index if not exists idx_deep_dive_sessions_user_created
  on public.deep_dive_sessions (user_id, created_at desc);

create table if not exists public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  title text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists idx_conversations_user_created on public.conversations (user_id, created_at desc);

create table if not exists public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('user', 'assistant', 'system')),
  content text not null,
  created_at timestamptz not null default now()
);
create index if not exists idx_messages_user_created on public.messages (user_id, created_at desc);
create index if not exists idx_messages_conversation on public.messages (conversation_id);

-- Row-level security: each person reads their own rows; the API roles get only the
-- privileges they need (Supabase grants them everything by default).
alter table public.profiles enable row level security;
alter table public.health_stories enable row level security;
alter table public.story_notes enable row level security;
alter table public.quick_scans enable row level security;
alter table public.symptom_tracking enable row level security;
alter table public.deep_dive_sessions enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;

revoke all on public.profiles, public.health_stories, public.story_notes, public.quick_scans,
  public.symptom_tracking, public.deep_dive_sessions, public.conversations, public.messages
  from anon, authenticated;
grant select on public.profiles, public.health_stories, public.story_notes, public.quick_scans,
  public.symptom_tracking, public.deep_dive_sessions, public.conversations, public.messages
  to authenticated;
grant all on public.profiles, public.health_stories, public.story_notes, public.quick_scans,
  public.symptom_tracking, public.deep_dive_sessions, public.conversations, public.messages
  to service_role;

-- A person may change their own display name and time zone, nothing else of the profile.
grant update (name, timezone, updated_at) on public.profiles to authenticated;
-- A person writes their own notes on their own stories.
grant insert, update, delete on public.story_notes to authenticated;

drop policy if exists "Users can view their own profile" on public.profiles;
create policy "Users can view their own profile" on public.profiles
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can update their own profile" on public.profiles;
create policy "Users can update their own profile" on public.profiles
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

drop policy if exists "Users can view their own stories" on public.health_stories;
create policy "Users can view their own stories" on public.health_stories
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own notes" on public.story_notes;
create policy "Users can view their own notes" on public.story_notes
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can add notes to their own stories" on public.story_notes;
create policy "Users can add notes to their own stories" on public.story_notes
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.health_stories s
      where s.id = story_id and s.user_id = (select auth.uid())
    )
  );

drop policy if exists "Users can update their own notes" on public.story_notes;
create policy "Users can update their own notes" on public.story_notes
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.health_stories s
      where s.id = story_id and s.user_id = (select auth.uid())
    )
  );

drop policy if exists "Users can delete their own notes" on public.story_notes;
create policy "Users can delete their own notes" on public.story_notes
  for delete to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own quick scans" on public.quick_scans;
create policy "Users can view their own quick scans" on public.quick_scans
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own symptoms" on public.symptom_tracking;
create policy "Users can view their own symptoms" on public.symptom_tracking
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own deep dives" on public.deep_dive_sessions;
create policy "Users can view their own deep dives" on public.deep_dive_sessions
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own conversations" on public.conversations;
create policy "Users can view their own conversations" on public.conversations
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own messages" on public.messages;
create policy "Users can view their own messages" on public.messages
  for select to authenticated using (user_id = (select auth.uid()));
