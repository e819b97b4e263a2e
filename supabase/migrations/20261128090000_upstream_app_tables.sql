-- The app's own tables that the weekly analysis reads (stories and their notes, quick
-- scans, tracked symptoms, deep dives, oracle conversations and their messages), and
-- our profile of each person (display name and the IANA time zone their week is
-- computed in).
--
-- The Proxima app creates its tables itself, with its own types: `text` user ids on
-- quick_scans, symptom_tracking and deep_dive_sessions (nullable on the first and last:
-- anonymous scans), messages owned through their conversation (no user_id), story notes
-- whose story_id has no foreign key. In a project where a table already exists this
-- migration changes nothing of it: no column, constraint, policy, grant or trigger. Only
-- where a table is missing (a new project, the tests) is it created, as the app
-- publishes it, with row-level security that lets each person read their own rows.
-- The indexes the worker needs are added everywhere, `if not exists`, under names of
-- our own (20261130100000_whole_local_weeks.sql).

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

-- Ours: the app keeps its own profile elsewhere and stores no time zone.
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

alter table public.profiles enable row level security;
revoke all on public.profiles from anon, authenticated;
grant select on public.profiles to authenticated;
grant all on public.profiles to service_role;
-- A person may change their own display name and time zone, nothing else of the profile.
grant update (name, timezone, updated_at) on public.profiles to authenticated;

drop policy if exists "Users can view their own profile" on public.profiles;
create policy "Users can view their own profile" on public.profiles
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can update their own profile" on public.profiles;
create policy "Users can update their own profile" on public.profiles
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

-- The app's tables, each created only where it is missing. Every block creates one
-- table with its row-level security; an existing table is left exactly as it is.

-- health_stories: the weekly story (the app writes some, the worker writes the others).
do $$
begin
  if pg_catalog.to_regclass('public.health_stories') is not null then
    return;
  end if;
  create table public.health_stories (
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
  alter table public.health_stories enable row level security;
  revoke all on public.health_stories from anon, authenticated;
  grant select on public.health_stories to authenticated;
  grant all on public.health_stories to service_role;
  create policy "Users can view their own stories" on public.health_stories
    for select to authenticated using (user_id = (select auth.uid()));
end
$$;

-- story_notes: a person's own notes on their stories (story_id has no foreign key).
do $$
begin
  if pg_catalog.to_regclass('public.story_notes') is not null then
    return;
  end if;
  create table public.story_notes (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    story_id uuid not null,
    note_text text not null,
    created_at timestamptz not null default timezone('utc'::text, now()),
    updated_at timestamptz not null default timezone('utc'::text, now())
  );
  create index idx_story_notes_user_id on public.story_notes (user_id);
  create index idx_story_notes_story_id on public.story_notes (story_id);
  create index idx_story_notes_user_story on public.story_notes (user_id, story_id);
  alter table public.story_notes enable row level security;
  revoke all on public.story_notes from anon, authenticated;
  grant select, insert, update, delete on public.story_notes to authenticated;
  grant all on public.story_notes to service_role;
  create policy "Users can view their own notes" on public.story_notes
    for select to authenticated using (user_id = (select auth.uid()));
  create policy "Users can create their own notes" on public.story_notes
    for insert to authenticated
    with check (
      user_id = (select auth.uid())
      and exists (
        select 1 from public.health_stories s
        where s.id = story_id and s.user_id = (select auth.uid())
      )
    );
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
  create policy "Users can delete their own notes" on public.story_notes
    for delete to authenticated using (user_id = (select auth.uid()));
  -- The app's trigger keeps updated_at; its function is created only with the table.
  if pg_catalog.to_regprocedure('public.handle_updated_at()') is null then
    create function public.handle_updated_at()
    returns trigger
    language plpgsql
    set search_path = ''
    as $fn$
    begin
      new.updated_at := pg_catalog.timezone('utc'::text, pg_catalog.now());
      return new;
    end
    $fn$;
  end if;
  create trigger set_updated_at
    before update on public.story_notes
    for each row execute function public.handle_updated_at();
end
$$;

-- conversations: oracle chats (user_id uuid, no foreign key in the app's schema).
do $$
begin
  if pg_catalog.to_regclass('public.conversations') is not null then
    return;
  end if;
  create table public.conversations (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    title text not null default 'New Conversation',
    ai_provider text not null default 'openai',
    model_name text not null default 'gpt-4',
    conversation_type text not null default 'general_chat',
    status text not null default 'active',
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_message_at timestamptz default now(),
    message_count integer default 0,
    total_tokens integer default 0,
    metadata jsonb default '{}'::jsonb
  );
  create index idx_conversations_user_id on public.conversations (user_id);
  create index idx_conversations_user_updated on public.conversations (user_id, updated_at desc);
  alter table public.conversations enable row level security;
  revoke all on public.conversations from anon, authenticated;
  grant select on public.conversations to authenticated;
  grant all on public.conversations to service_role;
  create policy "Users can view their own conversations" on public.conversations
    for select to authenticated using (user_id = (select auth.uid()));
end
$$;

-- messages: belong to a conversation, and through it to a person (no user_id).
do $$
begin
  if pg_catalog.to_regclass('public.messages') is not null then
    return;
  end if;
  create table public.messages (
    id uuid primary key default gen_random_uuid(),
    conversation_id uuid not null references public.conversations (id) on delete cascade,
    role text not null check (role in ('user', 'assistant', 'system')),
    content text not null,
    content_type text not null default 'text',
    token_count integer default 0,
    model_used text,
    processing_time integer default 0,
    attachments jsonb default '[]'::jsonb,
    metadata jsonb default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
  );
  create index idx_messages_conversation_id on public.messages (conversation_id);
  create index idx_messages_created_at on public.messages (created_at);
  alter table public.messages enable row level security;
  revoke all on public.messages from anon, authenticated;
  grant select on public.messages to authenticated;
  grant all on public.messages to service_role;
  create policy "Users can view messages of their own conversations" on public.messages
    for select to authenticated
    using (
      exists (
        select 1 from public.conversations c
        where c.id = conversation_id and c.user_id = (select auth.uid())
      )
    );
end
$$;

-- quick_scans: user_id is text, and null for an anonymous scan.
do $$
begin
  if pg_catalog.to_regclass('public.quick_scans') is not null then
    return;
  end if;
  create table public.quick_scans (
    id uuid primary key default gen_random_uuid(),
    user_id text,
    body_part text not null,
    form_data jsonb not null default '{}'::jsonb,
    analysis_result jsonb not null default '{}'::jsonb,
    confidence_score integer check (confidence_score between 0 and 100),
    urgency_level text check (urgency_level in ('low', 'medium', 'high')),
    llm_summary text,
    created_at timestamptz default now(),
    escalated_to_oracle boolean default false,
    oracle_conversation_id uuid references public.conversations (id),
    physician_report_generated boolean default false,
    summary_generated boolean default false
  );
  alter table public.quick_scans enable row level security;
  revoke all on public.quick_scans from anon, authenticated;
  grant select on public.quick_scans to authenticated;
  grant all on public.quick_scans to service_role;
  create policy "Users can view their own quick scans" on public.quick_scans
    for select to authenticated using (user_id = (select auth.uid())::text);
end
$$;

-- symptom_tracking: one row per symptom, body part and day; user_id is text.
do $$
begin
  if pg_catalog.to_regclass('public.symptom_tracking') is not null then
    return;
  end if;
  create table public.symptom_tracking (
    id uuid primary key default gen_random_uuid(),
    user_id text not null,
    quick_scan_id uuid references public.quick_scans (id),
    symptom_name text not null,
    body_part text not null,
    severity integer check (severity between 1 and 10),
    occurrence_date date default current_date,
    created_at timestamptz default now(),
    unique (user_id, symptom_name, body_part, occurrence_date)
  );
  create index idx_user_symptoms on public.symptom_tracking (user_id, symptom_name, occurrence_date);
  alter table public.symptom_tracking enable row level security;
  revoke all on public.symptom_tracking from anon, authenticated;
  grant select on public.symptom_tracking to authenticated;
  grant all on public.symptom_tracking to service_role;
  create policy "Users can view their own symptoms" on public.symptom_tracking
    for select to authenticated using (user_id = (select auth.uid())::text);
end
$$;

-- deep_dive_sessions: user_id is text, and null for an anonymous session.
do $$
begin
  if pg_catalog.to_regclass('public.deep_dive_sessions') is not null then
    return;
  end if;
  create table public.deep_dive_sessions (
    id uuid primary key default gen_random_uuid(),
    user_id text,
    body_part text,
    form_data jsonb,
    model_used text,
    questions jsonb[],
    status text default 'active' check (status in ('active', 'completed', 'abandoned')),
    final_analysis jsonb,
    final_confidence integer,
    created_at timestamptz default now(),
    completed_at timestamptz,
    llm_summary text
  );
  alter table public.deep_dive_sessions enable row level security;
  revoke all on public.deep_dive_sessions from anon, authenticated;
  grant select on public.deep_dive_sessions to authenticated;
  grant all on public.deep_dive_sessions to service_role;
  create policy "Users can view their own deep dives" on public.deep_dive_sessions
    for select to authenticated using (user_id = (select auth.uid())::text);
end
$$;
