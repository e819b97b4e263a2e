-- The weekly report: insights, predictions, shadow patterns and strategic moves, the
-- export history, and the audit trail of every generation that wrote them.
--
-- The five report tables keep the product guide's names, columns, CHECK constraints and
-- indexes (the frontend reads them as they are); the additions are the columns the
-- frontend already reads, a link to the generation that wrote each row, and a check
-- that `week_of` is a Monday. Only the worker (service role) writes analysis rows;
-- people read their own and may only mark a strategic move's progress.

-- One row per generation of a person's week: which model, what it cost, how long it
-- took, what went wrong. Several generations of one week (refreshes) are all kept.
create table if not exists public.analysis_generations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  week_of date not null,
  status text not null default 'running'
    check (status in ('running', 'succeeded', 'failed', 'skipped')),
  trigger text not null default 'weekly'
    check (trigger in ('weekly', 'refresh', 'manual')),
  provider text,
  model text,
  prompt_tokens integer not null default 0 check (prompt_tokens >= 0),
  completion_tokens integer not null default 0 check (completion_tokens >= 0),
  cache_hit_tokens integer not null default 0 check (cache_hit_tokens >= 0),
  round_trips integer not null default 0 check (round_trips >= 0),
  input_hash text,
  duration_ms integer check (duration_ms >= 0),
  error text,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint analysis_generations_week_of_is_monday check (extract(isodow from week_of) = 1)
);
create index if not exists idx_analysis_generations_user_week
  on public.analysis_generations (user_id, week_of, created_at desc);

create table if not exists public.health_insights (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  story_id uuid not null,
  insight_type varchar(20) check (insight_type in ('positive', 'warning', 'neutral')),
  title text not null,
  description text not null,
  confidence integer check (confidence >= 0 and confidence <= 100),
  created_at timestamptz not null default timezone('utc'::text, now()),
  week_of date not null,
  metadata jsonb default '{}',
  generation_id uuid references public.analysis_generations (id) on delete set null,
  constraint health_insights_week_of_is_monday check (extract(isodow from week_of) = 1)
);
create index if not exists idx_health_insights_user_week on public.health_insights (user_id, week_of);
create index if not exists idx_health_insights_story on public.health_insights (story_id);
create index if not exists idx_health_insights_type on public.health_insights (insight_type);
create index if not exists idx_health_insights_generation on public.health_insights (generation_id);

create table if not exists public.health_predictions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  story_id uuid not null,
  event_description text not null,
  probability integer check (probability >= 0 and probability <= 100),
  timeframe text not null,
  preventable boolean default false,
  reasoning text,
  suggested_actions jsonb default '[]',
  created_at timestamptz not null default timezone('utc'::text, now()),
  week_of date not null,
  status varchar(20) default 'active' check (status in ('active', 'occurred', 'prevented', 'expired')),
  generation_id uuid references public.analysis_generations (id) on delete set null,
  constraint health_predictions_week_of_is_monday check (extract(isodow from week_of) = 1)
);
create index if not exists idx_health_predictions_user_week on public.health_predictions (user_id, week_of);
create index if not exists idx_health_predictions_probability on public.health_predictions (probability desc);
create index if not exists idx_health_predictions_status on public.health_predictions (status);
create index if not exists idx_health_predictions_generation on public.health_predictions (generation_id);

create table if not exists public.shadow_patterns (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  pattern_name text not null,
  pattern_category varchar(50),
  last_seen_description text not null,
  significance varchar(10) check (significance in ('high', 'medium', 'low')),
  last_mentioned_date date,
  days_missing integer default 0,
  historical_frequency jsonb default '{}',
  created_at timestamptz not null default timezone('utc'::text, now()),
  week_of date not null,
  generation_id uuid references public.analysis_generations (id) on delete set null,
  constraint shadow_patterns_week_of_is_monday check (extract(isodow from week_of) = 1)
);
create index if not exists idx_shadow_patterns_user_week on public.shadow_patterns (user_id, week_of);
create index if not exists idx_shadow_patterns_significance on public.shadow_patterns (significance);
create index if not exists idx_shadow_patterns_category on public.shadow_patterns (pattern_category);
create index if not exists idx_shadow_patterns_generation on public.shadow_patterns (generation_id);

create table if not exists public.strategic_moves (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  strategy text not null,
  strategy_type varchar(20) check (strategy_type in ('discovery', 'pattern', 'prevention', 'optimization')),
  priority integer default 5 check (priority >= 1 and priority <= 10),
  rationale text,
  expected_outcome text,
  completion_status varchar(20) default 'pending'
    check (completion_status in ('pending', 'in_progress', 'completed', 'skipped')),
  completed_at timestamptz,
  created_at timestamptz not null default timezone('utc'::text, now()),
  week_of date not null,
  generation_id uuid references public.analysis_generations (id) on delete set null,
  constraint strategic_moves_week_of_is_monday check (extract(isodow from week_of) = 1)
);
create index if not exists idx_strategic_moves_user_week on public.strategic_moves (user_id, week_of);
create index if not exists idx_strategic_moves_priority on public.strategic_moves (priority desc);
create index if not exists idx_strategic_moves_status on public.strategic_moves (completion_status);
create index if not exists idx_strategic_moves_generation on public.strategic_moves (generation_id);

-- Marking a move completed stamps when; moving it back clears the stamp.
create or replace function public.stamp_strategic_move_completion()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.completion_status is distinct from old.completion_status then
    new.completed_at := case when new.completion_status = 'completed' then now() end;
  end if;
  return new;
end
$$;

drop trigger if exists strategic_moves_stamp_completion on public.strategic_moves;
create trigger strategic_moves_stamp_completion
  before update of completion_status on public.strategic_moves
  for each row execute function public.stamp_strategic_move_completion();

create table if not exists public.export_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  export_type varchar(20) check (export_type in ('pdf', 'doctor_share', 'csv', 'full_report')),
  story_ids uuid[],
  share_token text unique,
  share_link text,
  expires_at timestamptz,
  recipient_email text,
  recipient_name text,
  access_count integer default 0,
  last_accessed_at timestamptz,
  file_url text,
  file_size_bytes integer,
  metadata jsonb default '{}',
  created_at timestamptz not null default timezone('utc'::text, now())
);
create index if not exists idx_export_history_user on public.export_history (user_id);
create index if not exists idx_export_history_share_token on public.export_history (share_token);
create index if not exists idx_export_history_type on public.export_history (export_type);
create index if not exists idx_export_history_expires on public.export_history (expires_at);

-- Row-level security. People read their own rows; nobody but the service role writes,
-- except a strategic move's completion status. Shares are never readable through a
-- table policy: they are served only by a function that returns exactly one report.
alter table public.analysis_generations enable row level security;
alter table public.health_insights enable row level security;
alter table public.health_predictions enable row level security;
alter table public.shadow_patterns enable row level security;
alter table public.strategic_moves enable row level security;
alter table public.export_history enable row level security;

revoke all on public.analysis_generations, public.health_insights, public.health_predictions,
  public.shadow_patterns, public.strategic_moves, public.export_history
  from anon, authenticated;
grant select on public.analysis_generations, public.health_insights, public.health_predictions,
  public.shadow_patterns, public.strategic_moves, public.export_history
  to authenticated;
grant update (completion_status) on public.strategic_moves to authenticated;
grant all on public.analysis_generations, public.health_insights, public.health_predictions,
  public.shadow_patterns, public.strategic_moves, public.export_history
  to service_role;

drop policy if exists "Users can view their own generations" on public.analysis_generations;
create policy "Users can view their own generations" on public.analysis_generations
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own insights" on public.health_insights;
create policy "Users can view their own insights" on public.health_insights
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own predictions" on public.health_predictions;
create policy "Users can view their own predictions" on public.health_predictions
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own patterns" on public.shadow_patterns;
create policy "Users can view their own patterns" on public.shadow_patterns
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can view their own strategies" on public.strategic_moves;
create policy "Users can view their own strategies" on public.strategic_moves
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "Users can update their own strategies" on public.strategic_moves;
create policy "Users can update their own strategies" on public.strategic_moves
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

drop policy if exists "Users can view their own exports" on public.export_history;
create policy "Users can view their own exports" on public.export_history
  for select to authenticated using (user_id = (select auth.uid()));
