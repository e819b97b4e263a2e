-- Retention and deletion: what is kept, for how long, and what goes when a person does.
--
-- When a person is deleted (a row of auth.users: the dashboard, the admin API or the app's
-- own account deletion), every row of theirs goes with it by the foreign keys' cascade,
-- their queued jobs included. Their exported PDFs are not rows but objects in the
-- health-exports bucket, at <user_id>/<export_id>.pdf: a trigger enqueues one
-- delete_user_files job, and the worker removes the whole <user_id>/ folder. The job
-- carries no user_id column (a job with the person's id would vanish in the same
-- cascade), only {"user_id": "<uuid>"} in its payload. It waits ten minutes first, so an
-- export of theirs already rendering (its timeout is five) cannot upload after it.
--
-- The nightly housekeeping (pg_cron, or the worker's schedule loop where pg_cron is
-- absent) purges after periods kept as rows of proxima_private.settings, in whole days
-- from 1 to 3650:
--   retention_finished_jobs_days    30   succeeded and cancelled jobs (failed ones are
--                                        never purged: nothing is lost unseen)
--   retention_access_log_days      180   share_access_log rows
--   retention_expired_shares_days   30   doctor shares expired or revoked that long ago
--                                        (their tokens and access logs go with them)
-- Change one with, for example:
--   update proxima_private.settings set value = '90', updated_at = now()
--    where name = 'retention_access_log_days';
--
-- Dead connections: a worker killed mid-statement (or whose host vanished) leaves its
-- backend running the statement, holding its locks, until the server notices. The
-- database checks its clients every 2 s while a statement runs
-- (client_connection_check_interval, PostgreSQL 14 and later) and probes idle ones by
-- TCP keepalives after 30 s (then every 10 s, 3 probes), so a dead client's statement
-- ends within seconds and its locks are released.

-- -- deleting a person's files -------------------------------------------------------------------

create or replace function public.enqueue_user_files_deletion()
returns trigger
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  insert into public.jobs (kind, user_id, payload, priority, max_attempts, run_at, dedupe_key)
  values (
    'delete_user_files',
    null,
    jsonb_build_object('user_id', old.id),
    -10,
    10,
    pg_catalog.now() + interval '10 minutes',
    'delete_user_files:' || old.id::text
  )
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running')
  do nothing;
  return old;
end
$$;

-- Trigger functions: nobody calls them directly (the trigger fires without this grant).
revoke execute on function public.enqueue_user_files_deletion() from public, anon, authenticated, service_role;

drop trigger if exists enqueue_user_files_deletion on auth.users;
create trigger enqueue_user_files_deletion
  before delete on auth.users
  for each row execute function public.enqueue_user_files_deletion();

-- -- retention periods ---------------------------------------------------------------------------

insert into proxima_private.settings (name, value)
values
  ('retention_finished_jobs_days', '30'),
  ('retention_access_log_days', '180'),
  ('retention_expired_shares_days', '30')
on conflict (name) do nothing;

-- A period is a whole number of days from 1 to 3650, written plainly ('30', not '030').
-- case, not and: the cast must not run on a value the pattern refused.
alter table proxima_private.settings
  drop constraint if exists settings_retention_days_check;
alter table proxima_private.settings
  add constraint settings_retention_days_check check (
    case
      when name not in ('retention_finished_jobs_days', 'retention_access_log_days',
                        'retention_expired_shares_days') then true
      when value !~ '^[1-9][0-9]{0,3}$' then false
      else value::integer <= 3650
    end
  );

-- The purges read by these: old access logs by time, and shares by when they stopped
-- working (least() skips a null revoked_at). Finished jobs use jobs_finished_idx.
create index if not exists share_access_log_viewed_idx on public.share_access_log (viewed_at);
create index if not exists export_history_share_ended_idx
  on public.export_history ((least(expires_at, revoked_at)))
  where export_type = 'doctor_share';

-- -- housekeeping --------------------------------------------------------------------------------

-- As in 20261130100000_whole_local_weeks.sql (pg_cron's run history trimmed after 7 days,
-- its table named through format()), with the periods read from the settings (a missing
-- row counts as its default) and two more purges. Returns a count per purge;
-- cron_runs_deleted is null where pg_cron is absent.
create or replace function public.run_housekeeping()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  finished_jobs_days integer;
  access_log_days integer;
  expired_shares_days integer;
  jobs_deleted integer;
  access_log_deleted integer;
  shares_deleted integer;
  cron_runs_deleted integer;
  cron_runs regclass := pg_catalog.to_regclass('cron.job_run_details');
begin
  select coalesce(max(s.value::integer) filter (where s.name = 'retention_finished_jobs_days'), 30),
         coalesce(max(s.value::integer) filter (where s.name = 'retention_access_log_days'), 180),
         coalesce(max(s.value::integer) filter (where s.name = 'retention_expired_shares_days'), 30)
    into finished_jobs_days, access_log_days, expired_shares_days
    from proxima_private.settings s
   where s.name in ('retention_finished_jobs_days', 'retention_access_log_days',
                    'retention_expired_shares_days');

  -- Succeeded and cancelled jobs (both always have finished_at); failed ones stay.
  delete from public.jobs j
   where j.finished_at < pg_catalog.now() - pg_catalog.make_interval(days => finished_jobs_days)
     and j.status in ('succeeded', 'cancelled');
  get diagnostics jobs_deleted = row_count;

  delete from public.share_access_log l
   where l.viewed_at < pg_catalog.now() - pg_catalog.make_interval(days => access_log_days);
  get diagnostics access_log_deleted = row_count;

  -- Shares that stopped working (expired or revoked) that long ago; their tokens and
  -- remaining access logs go with them by cascade.
  delete from public.export_history e
   where e.export_type = 'doctor_share'
     and least(e.expires_at, e.revoked_at)
         < pg_catalog.now() - pg_catalog.make_interval(days => expired_shares_days);
  get diagnostics shares_deleted = row_count;

  if cron_runs is not null then
    execute pg_catalog.format(
      'delete from %s d where coalesce(d.end_time, d.start_time) < now() - interval ''7 days''',
      cron_runs
    );
    get diagnostics cron_runs_deleted = row_count;
  end if;

  return jsonb_build_object(
    'jobs_deleted', jobs_deleted,
    'access_log_deleted', access_log_deleted,
    'shares_deleted', shares_deleted,
    'cron_runs_deleted', cron_runs_deleted
  );
end
$$;

revoke execute on function public.run_housekeeping() from public, anon, authenticated;
grant execute on function public.run_housekeeping() to service_role;

-- -- dead connections ----------------------------------------------------------------------------

-- Settings of this database, for every new session. Where the role applying the
-- migrations may not change them (it does not own the database), say so and go on: a
-- connection string can still ask for them itself (options=-c client_connection_check_interval=2s,
-- and libpq's keepalives=1&keepalives_idle=30&keepalives_interval=10&keepalives_count=3).
do $$
begin
  if pg_catalog.current_setting('server_version_num')::integer >= 140000 then
    execute pg_catalog.format('alter database %I set client_connection_check_interval = %L',
                              pg_catalog.current_database(), '2s');
  else
    raise notice 'client_connection_check_interval needs PostgreSQL 14 or later; not set';
  end if;
  execute pg_catalog.format('alter database %I set tcp_keepalives_idle = %L',
                            pg_catalog.current_database(), '30');
  execute pg_catalog.format('alter database %I set tcp_keepalives_interval = %L',
                            pg_catalog.current_database(), '10');
  execute pg_catalog.format('alter database %I set tcp_keepalives_count = %L',
                            pg_catalog.current_database(), '3');
exception
  when insufficient_privilege then
    raise notice 'could not set the dead-connection checks of database % (%): set them as its owner',
      pg_catalog.current_database(), sqlerrm;
end
$$;
