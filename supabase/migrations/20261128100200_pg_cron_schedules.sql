-- The clock: pg_cron enqueues the weekly batch every Monday at 09:00 UTC (each person's
-- week is still their own: enqueue_weekly_analysis() computes it in their time zone)
-- and runs the housekeeping every night.
--
-- pg_cron can only be created where the server preloads it and only in the database it
-- is configured for (cron.database_name; `postgres` on Supabase and in our local
-- cluster). Everywhere else (test databases, a server without pg_cron) this migration
-- skips with a notice, so it applies everywhere and the worker's own scheduler covers
-- the gap. cron.schedule() upserts by job name, so re-running it never duplicates.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
    raise notice 'pg_cron is not installed on this server: no schedules created';
    return;
  end if;

  begin
    create extension if not exists pg_cron;
  exception when others then
    raise notice 'pg_cron cannot be created in database % (%): no schedules created',
      pg_catalog.current_database(), sqlerrm;
    return;
  end;

  perform cron.schedule(
    'weekly-health-analysis', '0 9 * * 1', 'select public.enqueue_weekly_analysis()'
  );
  perform cron.schedule(
    'proxima-housekeeping', '17 3 * * *', 'select public.run_housekeeping()'
  );
end
$$;
