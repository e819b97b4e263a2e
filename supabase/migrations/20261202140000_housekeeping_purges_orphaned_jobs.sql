-- The housekeeping also purges jobs whose person no longer exists.
--
-- Since 20261201100400_queue_person_check_per_statement.sql a job's person is checked once
-- per inserting statement, without the row lock the foreign key took, and a person's jobs
-- are deleted with them by a trigger. A job inserted by a transaction that commits after
-- another deleted its person is not seen by that deletion and outlives the person: it fails
-- when it writes, and failed jobs are never purged, so the deleted person's id stayed in the
-- queue for good (tests/queue/test_job_person.py makes one with two sessions). The nightly
-- housekeeping now deletes such jobs in any status but running (an attempt under way ends
-- first and is taken the next night), within a day of the deletion, and counts them as
-- orphaned_jobs_deleted. Jobs without a person (delete_user_files) are not touched.
--
-- Everything else is as in 20261201100300_retention_and_deletion.sql.

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
  orphaned_jobs_deleted integer;
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

  -- Jobs whose person is gone, in any status but running (a running attempt ends first;
  -- the next night takes it): one anti-join of the queue against auth.users.
  delete from public.jobs j
   where j.user_id is not null
     and j.status <> 'running'
     and not exists (select 1 from auth.users u where u.id = j.user_id);
  get diagnostics orphaned_jobs_deleted = row_count;

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
    'orphaned_jobs_deleted', orphaned_jobs_deleted,
    'access_log_deleted', access_log_deleted,
    'shares_deleted', shares_deleted,
    'cron_runs_deleted', cron_runs_deleted
  );
end
$$;

revoke execute on function public.run_housekeeping() from public, anon, authenticated;
grant execute on function public.run_housekeeping() to service_role;
