-- Sharing with a doctor: a person makes a time-limited link to some of their stories
-- (and the analysis of the weeks they cover); the doctor opens it without an account.
--
--   rpc('create_doctor_share', { story_ids, recipient_email, expires_in_days, time_zone })
--     -> { share_id, share_link, expires_at, notification_job_id }   (the link is shown once)
--   rpc('revoke_doctor_share', { share_id, time_zone }) -> { share_id, revoked_at }
--   get_shared_report(token, user_agent) -> the one report the link opens (anon may call it)
--
-- The link is a bearer credential to health data, so it is treated like a password:
--   * its token is 32 random bytes (244 random bits: two version-4 UUIDs from the
--     server's strong random source), base64url without padding, 43 characters;
--   * only its SHA-256 is stored (proxima_private.share_tokens, outside every schema the
--     API exposes); the token itself is in no table, no job payload and no log;
--   * the export_history row of the share (export_type 'doctor_share') holds no usable
--     secret: share_token and share_link stay null (a CHECK says so for new rows);
--   * a share expires (1 to 90 days, default 30) and can be revoked; both take effect on
--     the next view, which re-checks them under the row lock that counts it;
--   * every view is logged (share_access_log) and counted (access_count,
--     last_accessed_at) atomically: concurrent views queue on the share's row lock.
--
-- The e-mail to the recipient (a share_notification job, enqueued in the same
-- transaction) carries a link of its own: the worker mints a second token for the same
-- share when it sends the message and stores only its hash, so no token ever has to
-- wait in the queue. Both links stop working when the share is revoked or expires.
--
-- Where links point: proxima_private.settings row 'share_base_url' (default: the
-- shared-report Edge Function of `supabase start`). On a project, set it once:
--   update proxima_private.settings set value = 'https://<ref>.supabase.co/functions/v1/shared-report'
--    where name = 'share_base_url';
--
-- Limits (per person and local day, counted atomically in public.daily_usage): at most
-- 20 shares and 20 PDF exports; the 21st raises PT429 (HTTP 429) and writes nothing.
--
-- Queue priorities (higher runs first; claims never pre-empt a running job):
--    10  a person's own refresh or story (at most ten a week)
--     0  the weekly batch
--    -5  share_notification (one short e-mail)
--   -10  export_pdf
-- An export is claimed only when no weekly job is due, so the most it can ever delay a
-- weekly job is the rest of its own run: the slot it already holds when the batch
-- arrives. (Before this migration exports ran at 5, ahead of the whole batch.) Run a
-- worker with `--kinds export_pdf,share_notification` for a lane of their own.
--
-- And anon, the public API key's role, may execute get_shared_report and nothing else of
-- ours: the functions it could run until now lose that grant here.

-- -- anon runs nothing of ours but get_shared_report ----------------------------------------

-- A CHECK on profiles calls is_valid_time_zone, so people (and the worker) keep it.
revoke execute on function public.is_valid_time_zone(text) from public, anon;
grant execute on function public.is_valid_time_zone(text) to authenticated, service_role;
revoke execute on function public.canonical_time_zone(text) from public, anon;
revoke execute on function public.require_time_zone(text) from public, anon;
-- Trigger functions: nobody calls them directly (triggers fire without this grant).
revoke execute on function public.stamp_strategic_move_completion() from public, anon, authenticated;
do $$
begin
  -- The app's own updated_at trigger function, when our migrations created it.
  if pg_catalog.to_regprocedure('public.handle_updated_at()') is not null then
    revoke execute on function public.handle_updated_at() from public, anon;
  end if;
end
$$;

-- -- private things: token hashes and settings, in a schema the API does not expose ----------

create schema if not exists proxima_private;
revoke all on schema proxima_private from public, anon, authenticated;
grant usage on schema proxima_private to service_role;

create table if not exists proxima_private.settings (
  name text primary key check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  value text not null,
  updated_at timestamptz not null default now(),
  -- An absolute http(s) address without query, fragment or trailing slash: the token is
  -- appended as one more path segment.
  constraint settings_share_base_url_check check (
    name <> 'share_base_url'
    or value ~ '^https?://[^[:space:]/?#@]+(/[^[:space:]?#]*)?$' and value !~ '/$'
  )
);
alter table proxima_private.settings enable row level security;
revoke all on proxima_private.settings from public, anon, authenticated;
grant select on proxima_private.settings to service_role;

insert into proxima_private.settings (name, value)
values ('share_base_url', 'http://127.0.0.1:54321/functions/v1/shared-report')
on conflict (name) do nothing;

-- One row per live token: the SHA-256 of its text. The owner's link is 'link', the
-- e-mailed one 'email'. Deleting the share deletes its tokens.
create table if not exists proxima_private.share_tokens (
  token_hash bytea primary key check (pg_catalog.length(token_hash) = 32),
  share_id uuid not null references public.export_history (id) on delete cascade,
  channel text not null check (channel in ('link', 'email')),
  created_at timestamptz not null default now()
);
create index if not exists share_tokens_share_idx on proxima_private.share_tokens (share_id);
alter table proxima_private.share_tokens enable row level security;
revoke all on proxima_private.share_tokens from public, anon, authenticated;
grant select, insert on proxima_private.share_tokens to service_role;

-- The share page's database role: it can execute get_shared_report and nothing else.
-- The Edge Function connects with SUPABASE_DB_URL and runs `set local role
-- proxima_share_reader` before its one call.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'proxima_share_reader') then
    create role proxima_share_reader nologin noinherit;
  end if;
end
$$;
grant usage on schema public to proxima_share_reader;
-- The role that applies the migrations (postgres on Supabase, the one SUPABASE_DB_URL
-- names) may switch to it.
do $$
begin
  execute pg_catalog.format('grant proxima_share_reader to %I', current_user);
end
$$;

-- -- shares on export_history ------------------------------------------------------------------

alter table public.export_history
  add column if not exists revoked_at timestamptz;

-- A share keeps no usable secret in its row (the guide's version stored the token and
-- the link in clear). NOT VALID: rows written before are handled just below.
alter table public.export_history
  drop constraint if exists export_history_no_clear_share_secret;
alter table public.export_history
  add constraint export_history_no_clear_share_secret
    check (share_token is null and share_link is null) not valid;

-- Links made by the guide's version keep working: their tokens become hashes, and the
-- clear copies are erased.
insert into proxima_private.share_tokens (token_hash, share_id, channel)
select pg_catalog.sha256(pg_catalog.convert_to(e.share_token, 'UTF8')), e.id, 'link'
  from public.export_history e
 where e.share_token is not null
on conflict (token_hash) do nothing;
update public.export_history e
   set share_token = null, share_link = null
 where e.share_token is not null or e.share_link is not null;

create index if not exists idx_export_history_user_type_created
  on public.export_history (user_id, export_type, created_at desc);

-- Every view of a share: when, and a hash of the browser's user agent (salted with the
-- share id, so views cannot be matched across shares). user_id is the share's owner,
-- who may read the log of their own shares.
create table if not exists public.share_access_log (
  id uuid primary key default gen_random_uuid(),
  share_id uuid not null references public.export_history (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  viewed_at timestamptz not null default now(),
  user_agent_hash text check (user_agent_hash ~ '^[0-9a-f]{64}$')
);
create index if not exists share_access_log_share_viewed on public.share_access_log (share_id, viewed_at);
create index if not exists share_access_log_user_viewed on public.share_access_log (user_id, viewed_at);

alter table public.share_access_log enable row level security;
revoke all on public.share_access_log from anon, authenticated;
grant select on public.share_access_log to authenticated;
grant all on public.share_access_log to service_role;

drop policy if exists "Users can view the views of their own shares" on public.share_access_log;
create policy "Users can view the views of their own shares" on public.share_access_log
  for select to authenticated using (user_id = (select auth.uid()));

-- -- daily limits ------------------------------------------------------------------------------

-- Actions used per person and local day (the day in their profile's time zone).
create table if not exists public.daily_usage (
  user_id uuid not null references auth.users (id) on delete cascade,
  action text not null check (action in ('doctor_share', 'pdf_export')),
  day date not null,
  used integer not null default 1 check (used >= 1),
  last_used_at timestamptz not null default now(),
  primary key (user_id, action, day)
);

alter table public.daily_usage enable row level security;
revoke all on public.daily_usage from anon, authenticated;
grant select on public.daily_usage to authenticated;
grant all on public.daily_usage to service_role;

drop policy if exists "Users can view their own daily usage" on public.daily_usage;
create policy "Users can view their own daily usage" on public.daily_usage
  for select to authenticated using (user_id = (select auth.uid()));

-- One more use of `action` today for the caller, counted atomically as the weekly refresh
-- is: concurrent calls queue on the counter's row lock and each re-checks the limit
-- against what the one before committed. Returns the count after this use; PT429 once
-- `daily_limit` are used (the caller's whole transaction, and so its request, rolls back).
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
  used integer;
begin
  insert into public.daily_usage as u (user_id, action, day, used, last_used_at)
  values (take_daily_allowance.caller, take_daily_allowance.action, today, 1, pg_catalog.now())
  on conflict on constraint daily_usage_pkey do update
    set used = u.used + 1,
        last_used_at = excluded.last_used_at
    where u.used < take_daily_allowance.daily_limit
  returning u.used into used;

  if used is null then
    raise exception 'daily limit reached: at most % % a day; it resets at midnight (%)',
      take_daily_allowance.daily_limit,
      case take_daily_allowance.action when 'doctor_share' then 'doctor shares' else 'PDF exports' end,
      zone
      using errcode = 'PT429',
            detail = 'The limit counts per day in your time zone.';
  end if;
  return used;
end
$$;

revoke execute on function public.take_daily_allowance(uuid, text, integer)
  from public, anon, authenticated, service_role;

-- -- the caller's own stories ------------------------------------------------------------------

-- The story list of an export or a share, checked: distinct ids in the caller's order,
-- 1 to 100 of them, every one the caller's. Definer (people read their stories anyway)
-- and internal: only our definer RPCs call it. The refusal is the same for another
-- person's story and for an id that exists nowhere.
--   null or empty list          22023  choose at least one story to <purpose>
--   a null id in the list       22004  a story id in the list is null
--   more than 100 distinct      22023  an export (a share) holds at most 100 stories; N were chosen
--   not the caller's story      PT403  story <id> is not one of your stories
create or replace function public.own_story_selection(caller uuid, story_ids uuid[], purpose text)
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  max_stories constant integer := 100;
  chosen uuid[];
  chosen_count integer;
  not_yours uuid;
begin
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

-- -- PDF export: the daily limit, and behind the weekly batch --------------------------------------

-- As in 20261128120000_pdf_exports.sql, but with the browser's time zone, the shared story check, at most 20 exports
-- per person and local day, and its job at priority -10 (see the top of this file).
-- The three-argument version of 20261128120000 is replaced by this one (the added optional
-- time_zone would otherwise make every call ambiguous).
drop function if exists public.request_pdf_export(uuid[], boolean, boolean);
create or replace function public.request_pdf_export(
  story_ids uuid[],
  include_analysis boolean default true,
  include_notes boolean default true,
  time_zone text default null
)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('export your stories', request_pdf_export.time_zone);
  chosen uuid[] := public.own_story_selection(caller, request_pdf_export.story_ids, 'export');
  new_export_id uuid;
begin
  perform public.take_daily_allowance(caller, 'pdf_export', 20);

  insert into public.export_history (user_id, export_type, story_ids, status, metadata, created_at)
  values (
    caller,
    'pdf',
    chosen,
    'pending',
    jsonb_build_object(
      'include_analysis', coalesce(request_pdf_export.include_analysis, true),
      'include_notes', coalesce(request_pdf_export.include_notes, true)
    ),
    pg_catalog.now()
  )
  returning id into new_export_id;

  insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
  values (
    'export_pdf',
    caller,
    jsonb_build_object('export_id', new_export_id),
    -10,
    'export_pdf:' || new_export_id
  );

  return new_export_id;
end
$$;

revoke execute on function public.request_pdf_export(uuid[], boolean, boolean, text)
  from public, anon, service_role;
grant execute on function public.request_pdf_export(uuid[], boolean, boolean, text) to authenticated;

-- -- create, revoke, resolve -------------------------------------------------------------------

-- The signed-in person shares some of their own stories. Definer, because people write
-- neither export_history nor the queue. Every refusal happens before anything is
-- written; the messages never repeat the e-mail address.
--   no JWT subject                          PT401  sign in to share your stories
--   story list problems                     see own_story_selection (22023, 22004, PT403)
--   expires_in_days outside 1..90           22023
--   an implausible recipient_email          22023
--   the 21st share of the local day         PT429
-- A null or blank recipient_email means none (no e-mail is sent); a null
-- expires_in_days means 30.
create or replace function public.create_doctor_share(
  story_ids uuid[],
  recipient_email text default null,
  expires_in_days integer default 30,
  time_zone text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('share your stories', create_doctor_share.time_zone);
  chosen uuid[] := public.own_story_selection(caller, create_doctor_share.story_ids, 'share');
  days integer := coalesce(create_doctor_share.expires_in_days, 30);
  recipient text := nullif(pg_catalog.btrim(create_doctor_share.recipient_email), '');
  base_url text;
  token text;
  share_id uuid;
  expires timestamptz;
  job_id bigint;
begin
  if days < 1 or days > 90 then
    raise exception 'expires_in_days must be between 1 and 90; % was given', days
      using errcode = '22023';
  end if;
  if recipient is not null
     and (pg_catalog.length(recipient) > 254
          or recipient !~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'
          or recipient ~ '(^\.|\.\.|\.@)') then
    raise exception 'recipient_email is not a plausible e-mail address'
      using errcode = '22023',
            hint = 'Give an address like name@example.org, or none to share the link yourself.';
  end if;

  select s.value into base_url from proxima_private.settings s where s.name = 'share_base_url';
  if base_url is null then
    raise exception 'sharing is not configured (no share_base_url setting)' using errcode = '55000';
  end if;

  perform public.take_daily_allowance(caller, 'doctor_share', 20);

  -- 32 bytes from two version-4 UUIDs (pg_strong_random): 244 random bits.
  token := pg_catalog.rtrim(
    pg_catalog.translate(
      pg_catalog.encode(
        pg_catalog.decode(
          pg_catalog.replace(pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, '-', ''),
          'hex'
        ),
        'base64'
      ),
      '+/', '-_'
    ),
    '='
  );
  expires := pg_catalog.now() + pg_catalog.make_interval(days => days);

  insert into public.export_history
    (user_id, export_type, story_ids, expires_at, recipient_email, access_count, metadata, created_at)
  values (
    caller,
    'doctor_share',
    chosen,
    expires,
    recipient,
    0,
    jsonb_build_object('expires_in_days', days),
    pg_catalog.now()
  )
  returning id into share_id;

  insert into proxima_private.share_tokens (token_hash, share_id, channel)
  values (pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8')), share_id, 'link');

  if recipient is not null then
    insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
    values (
      'share_notification',
      caller,
      jsonb_build_object('share_id', share_id),
      -5,
      'share_notification:' || share_id
    )
    returning id into job_id;
  end if;

  return jsonb_build_object(
    'share_id', share_id,
    'share_link', base_url || '/' || token,
    'expires_at', expires,
    'expires_in_days', days,
    'story_ids', pg_catalog.to_jsonb(chosen),
    'notification_job_id', job_id
  );
end
$$;

revoke execute on function public.create_doctor_share(uuid[], text, integer, text)
  from public, anon, service_role;
grant execute on function public.create_doctor_share(uuid[], text, integer, text) to authenticated;

-- The owner revokes a share: its links stop working at once (the next view re-checks
-- under the row lock). Revoking twice returns the first revocation.
--   no JWT subject                 PT401
--   null share_id                  22004
--   not a share of the caller's    PT404  (the same for another person's and for none)
create or replace function public.revoke_doctor_share(share_id uuid, time_zone text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('revoke a share', revoke_doctor_share.time_zone);
  revoked timestamptz;
begin
  if revoke_doctor_share.share_id is null then
    raise exception 'share_id is null' using errcode = '22004';
  end if;

  update public.export_history e
     set revoked_at = coalesce(e.revoked_at, pg_catalog.now())
   where e.id = revoke_doctor_share.share_id
     and e.user_id = caller
     and e.export_type = 'doctor_share'
  returning e.revoked_at into revoked;

  if revoked is null then
    raise exception 'share % is not one of your shares', revoke_doctor_share.share_id
      using errcode = 'PT404';
  end if;

  return jsonb_build_object('share_id', revoke_doctor_share.share_id, 'revoked_at', revoked);
end
$$;

revoke execute on function public.revoke_doctor_share(uuid, text) from public, anon, service_role;
grant execute on function public.revoke_doctor_share(uuid, text) to authenticated;

-- What a doctor's link opens. The only function anon (and the share page's role) may
-- execute. Returns exactly one report, shaped as the PDF export's document
-- (worker.report.ExportDocument) under "report", and the share's dates under "share":
--   { report: { display_name, time_zone, period_start, period_end, generated_at, stories: [{ title,
--               subtitle, week_of, generated_date, story_text, notes }], weeks: [{ week_of,
--               covers_start, covers_end, time_zone, insights, predictions,
--               shadow_patterns, strategic_moves }], include_analysis, include_notes },
--     share: { shared_at, expires_at } }
-- and nothing else: no user id, no e-mail, no story that was not shared.
--   a token of the wrong shape, or unknown      PT404  share link not found
--   expired or revoked                          PT410  share link has expired
-- A successful view is counted and logged in the same statement that re-checks expiry
-- and revocation under the share's row lock, so concurrent views are counted exactly and
-- a revocation that committed is seen by every view after it.
create or replace function public.get_shared_report(token text, user_agent text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_share uuid;
  viewed timestamptz := pg_catalog.clock_timestamp();
  owner_id uuid;
  shared_ids uuid[];
  shared_at timestamptz;
  expires timestamptz;
  zone text;
  display_name text;
  stories jsonb;
  weeks jsonb;
  first_week date;
  last_week date;
begin
  if get_shared_report.token is null or get_shared_report.token !~ '^[A-Za-z0-9_-]{22,128}$' then
    raise exception 'share link not found' using errcode = 'PT404';
  end if;

  select t.share_id into found_share
    from proxima_private.share_tokens t
   where t.token_hash = pg_catalog.sha256(pg_catalog.convert_to(get_shared_report.token, 'UTF8'));
  if found_share is null then
    raise exception 'share link not found' using errcode = 'PT404';
  end if;

  update public.export_history e
     set access_count = coalesce(e.access_count, 0) + 1,
         last_accessed_at = viewed
   where e.id = found_share
     and e.export_type = 'doctor_share'
     and e.revoked_at is null
     and e.expires_at > viewed
  returning e.user_id, e.story_ids, e.created_at, e.expires_at
    into owner_id, shared_ids, shared_at, expires;
  if owner_id is null then
    raise exception 'share link has expired' using errcode = 'PT410';
  end if;

  insert into public.share_access_log (share_id, user_id, viewed_at, user_agent_hash)
  values (
    found_share,
    owner_id,
    viewed,
    case when get_shared_report.user_agent is not null then
      pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to(found_share::text || ':' || get_shared_report.user_agent, 'UTF8')),
        'hex'
      )
    end
  );

  select p.name, p.timezone into display_name, zone from public.profiles p where p.user_id = owner_id;
  zone := coalesce(zone, 'UTC');

  -- The shared stories still there, in the order they were shared, each with the Monday
  -- of the week it was written in (in the person's zone) and its notes, oldest first.
  select coalesce(pg_catalog.jsonb_agg(
           jsonb_build_object(
             'title', s.title,
             'subtitle', s.subtitle,
             'week_of', pg_catalog.to_char(pg_catalog.date_trunc('week', s.generated_date at time zone zone), 'YYYY-MM-DD'),
             'generated_date', pg_catalog.to_char(s.generated_date at time zone zone, 'YYYY-MM-DD'),
             'story_text', coalesce(s.story_text, ''),
             'notes', coalesce((
               select pg_catalog.jsonb_agg(n.note_text order by n.created_at, n.id)
                 from public.story_notes n
                where n.story_id = s.id and n.user_id = owner_id
             ), '[]'::jsonb)
           )
           order by chosen.ord), '[]'::jsonb),
         min(pg_catalog.date_trunc('week', s.generated_date at time zone zone)::date),
         max(pg_catalog.date_trunc('week', s.generated_date at time zone zone)::date)
    into stories, first_week, last_week
    from unnest(shared_ids) with ordinality as chosen (id, ord)
    join public.health_stories s on s.id = chosen.id and s.user_id = owner_id;

  -- The stored analysis of each week those stories were written in, ordered as
  -- get_health_analysis orders it.
  select coalesce(pg_catalog.jsonb_agg(
           jsonb_build_object(
             'week_of', pg_catalog.to_char(w.week_of, 'YYYY-MM-DD'),
             'covers_start', pg_catalog.to_char(covered.period_start at time zone covered.time_zone, 'YYYY-MM-DD'),
             'covers_end', pg_catalog.to_char((covered.period_end at time zone covered.time_zone) - interval '1 microsecond', 'YYYY-MM-DD'),
             'time_zone', covered.time_zone,
             'findings', coalesce((
               select pg_catalog.jsonb_agg(f.value ->> 'sentence' order by f.ordinality)
                 from pg_catalog.jsonb_array_elements(covered.findings) with ordinality as f (value, ordinality)
             ), '[]'::jsonb),
             'insights', coalesce((
               select pg_catalog.jsonb_agg(
                        jsonb_build_object('insight_type', i.insight_type, 'title', i.title,
                                           'description', i.description, 'confidence', i.confidence)
                        order by i.confidence desc nulls last, i.created_at, i.id)
                 from public.health_insights i
                where i.user_id = owner_id and i.week_of = w.week_of
             ), '[]'::jsonb),
             'predictions', coalesce((
               select pg_catalog.jsonb_agg(
                        jsonb_build_object('event_description', p.event_description,
                                           'probability', p.probability, 'timeframe', p.timeframe,
                                           'preventable', p.preventable, 'reasoning', p.reasoning)
                        order by p.probability desc nulls last, p.created_at, p.id)
                 from public.health_predictions p
                where p.user_id = owner_id and p.week_of = w.week_of
             ), '[]'::jsonb),
             'shadow_patterns', coalesce((
               select pg_catalog.jsonb_agg(
                        jsonb_build_object('pattern_name', sp.pattern_name,
                                           'significance', sp.significance,
                                           'last_seen_description', sp.last_seen_description,
                                           'last_mentioned_date', sp.last_mentioned_date,
                                           'days_missing', sp.days_missing)
                        order by case sp.significance when 'high' then 1 when 'medium' then 2
                                                      when 'low' then 3 else 4 end,
                                 sp.days_missing desc nulls last, sp.created_at, sp.id)
                 from public.shadow_patterns sp
                where sp.user_id = owner_id and sp.week_of = w.week_of
             ), '[]'::jsonb),
             'strategic_moves', coalesce((
               select pg_catalog.jsonb_agg(
                        jsonb_build_object('strategy', m.strategy, 'strategy_type', m.strategy_type,
                                           'priority', m.priority, 'rationale', m.rationale,
                                           'completion_status', m.completion_status)
                        order by m.priority desc nulls last, m.created_at, m.id)
                 from public.strategic_moves m
                where m.user_id = owner_id and m.week_of = w.week_of
             ), '[]'::jsonb)
           )
           order by w.week_of), '[]'::jsonb)
    into weeks
    from (
      select distinct pg_catalog.date_trunc('week', s.generated_date at time zone zone)::date as week_of
        from public.health_stories s
       where s.id = any (shared_ids) and s.user_id = owner_id
    ) w
    left join lateral (
      select g.period_start, g.period_end, g.time_zone, g.findings
        from public.analysis_generations g
       where g.user_id = owner_id and g.week_of = w.week_of and g.status = 'succeeded'
         and g.trigger <> 'story' and g.period_start is not null
       order by g.created_at desc
       limit 1
    ) covered on true;

  return jsonb_build_object(
    'report', jsonb_build_object(
      'display_name', display_name,
      'time_zone', zone,
      'period_start', pg_catalog.to_char(coalesce(first_week, (viewed at time zone zone)::date), 'YYYY-MM-DD'),
      'period_end', pg_catalog.to_char(coalesce(last_week + 6, (viewed at time zone zone)::date), 'YYYY-MM-DD'),
      'generated_at', viewed,
      'stories', stories,
      'weeks', weeks,
      'include_analysis', true,
      'include_notes', true
    ),
    'share', jsonb_build_object('shared_at', shared_at, 'expires_at', expires)
  );
end
$$;

-- anon and the share page's role open links; a signed-in person may too (the app's
-- preview); service_role has no use for it.
revoke execute on function public.get_shared_report(text, text) from public, service_role;
grant execute on function public.get_shared_report(text, text) to anon, authenticated, proxima_share_reader;
