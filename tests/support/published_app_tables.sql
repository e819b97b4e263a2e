-- The Proxima app's own tables as its public SQL defines them (chat tables, quick scans
-- and symptom tracking, deep dives, story notes with their policies and trigger), for a
-- database that already has them before our migrations run. Types are the app's: text
-- user ids on quick_scans, symptom_tracking and deep_dive_sessions; messages without a
-- user_id; story_notes.story_id without a foreign key. The app's `INDEX ...` clauses
-- inside `create table` are written as the `create index` statements they stand for.
-- health_stories has no published SQL (our migrations create it).

create table conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  title text not null default 'New Conversation',
  ai_provider text not null default 'openai',
  model_name text not null default 'gpt-4',
  conversation_type text not null default 'general_chat',
  status text not null default 'active',
  created_at timestamp with time zone default now(),
  updated_at timestamp with time zone default now(),
  last_message_at timestamp with time zone default now(),
  message_count integer default 0,
  total_tokens integer default 0,
  metadata jsonb default '{}'::jsonb
);

create table messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references conversations(id) on delete cascade,
  role text not null check (role in ('user', 'assistant', 'system')),
  content text not null,
  content_type text not null default 'text',
  token_count integer default 0,
  model_used text,
  processing_time integer default 0,
  attachments jsonb default '[]'::jsonb,
  metadata jsonb default '{}'::jsonb,
  created_at timestamp with time zone default now(),
  updated_at timestamp with time zone default now()
);

create index if not exists idx_conversations_user_id on conversations(user_id);
create index if not exists idx_conversations_user_updated on conversations(user_id, updated_at desc);
create index if not exists idx_conversations_status on conversations(status);
create index if not exists idx_messages_conversation_id on messages(conversation_id);
create index if not exists idx_messages_created_at on messages(created_at);
create index if not exists idx_messages_role on messages(role);
create index if not exists idx_messages_content_search on messages using gin(to_tsvector('english', content));

create or replace function update_conversation_timestamp()
returns trigger as $$
begin
  update conversations
  set
    updated_at = now(),
    last_message_at = now(),
    message_count = (select count(*) from messages where conversation_id = new.conversation_id)
  where id = new.conversation_id;
  return new;
end;
$$ language plpgsql;

create trigger trigger_update_conversation_on_message
  after insert or update on messages
  for each row execute function update_conversation_timestamp();

alter table conversations enable row level security;
alter table messages enable row level security;

create policy "Users can view their own conversations"
  on conversations for select
  using (auth.uid()::text = user_id::text);

create policy "Users can insert their own conversations"
  on conversations for insert
  with check (auth.uid()::text = user_id::text);

create policy "Users can view messages from their conversations"
  on messages for select
  using (
    exists (
      select 1 from conversations
      where conversations.id = messages.conversation_id
      and conversations.user_id::text = auth.uid()::text
    )
  );

create table quick_scans (
  id uuid primary key default gen_random_uuid(),
  user_id text,
  body_part text not null,
  form_data jsonb not null,
  analysis_result jsonb not null,
  confidence_score integer check (confidence_score between 0 and 100),
  urgency_level text check (urgency_level in ('low', 'medium', 'high')),
  llm_summary text,
  created_at timestamp with time zone default now(),
  escalated_to_oracle boolean default false,
  oracle_conversation_id uuid references conversations(id),
  physician_report_generated boolean default false,
  summary_generated boolean default false
);
create index idx_user_scans on quick_scans (user_id, created_at desc);
create index idx_body_part on quick_scans (body_part, created_at desc);

create table symptom_tracking (
  id uuid primary key default gen_random_uuid(),
  user_id text not null,
  quick_scan_id uuid references quick_scans(id),
  symptom_name text not null,
  body_part text not null,
  severity integer check (severity between 1 and 10),
  occurrence_date date default current_date,
  created_at timestamp with time zone default now(),
  unique (user_id, symptom_name, body_part, occurrence_date)
);
create index idx_user_symptoms on symptom_tracking (user_id, symptom_name, occurrence_date);

alter table quick_scans enable row level security;
alter table symptom_tracking enable row level security;
create policy "Users can view own scans" on quick_scans
  for select using (user_id = auth.uid()::text or user_id is null);
create policy "Users can view own symptoms" on symptom_tracking
  for select using (user_id = auth.uid()::text);

create table deep_dive_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id text,
  body_part text not null,
  form_data jsonb,
  model_used text,
  questions jsonb[] default array[]::jsonb[],
  status text default 'active' check (status in ('active', 'completed', 'abandoned')),
  final_analysis jsonb,
  final_confidence integer,
  created_at timestamp with time zone default now(),
  completed_at timestamp with time zone,
  llm_summary text
);
alter table deep_dive_sessions enable row level security;
create policy "Users can view own deep dives" on deep_dive_sessions
  for select using (user_id = auth.uid()::text or user_id is null);

create table if not exists public.story_notes (
    id uuid default gen_random_uuid() primary key,
    user_id uuid not null references auth.users(id) on delete cascade,
    story_id uuid not null,
    note_text text not null,
    created_at timestamp with time zone default timezone('utc'::text, now()) not null,
    updated_at timestamp with time zone default timezone('utc'::text, now()) not null
);

create index idx_story_notes_user_id on public.story_notes(user_id);
create index idx_story_notes_story_id on public.story_notes(story_id);
create index idx_story_notes_user_story on public.story_notes(user_id, story_id);

alter table public.story_notes enable row level security;

create policy "Users can view their own notes"
    on public.story_notes for select
    using (auth.uid() = user_id);

create policy "Users can create their own notes"
    on public.story_notes for insert
    with check (auth.uid() = user_id);

create policy "Users can update their own notes"
    on public.story_notes for update
    using (auth.uid() = user_id);

create policy "Users can delete their own notes"
    on public.story_notes for delete
    using (auth.uid() = user_id);

create or replace function public.handle_updated_at()
returns trigger as $$
begin
    new.updated_at = timezone('utc'::text, now());
    return new;
end;
$$ language plpgsql;

create trigger set_updated_at
    before update on public.story_notes
    for each row
    execute function public.handle_updated_at();

grant all on public.story_notes to authenticated;
grant all on public.story_notes to service_role;
