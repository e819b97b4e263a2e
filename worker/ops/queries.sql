-- Read-only queries of the operating commands (worker/ops/).

-- name: weekly_costs
-- Every generation of the weeks from %(first)s to %(last)s (Mondays), failed ones too: a
-- failed generation's tokens were paid for. People analysed are those with a succeeded
-- generation of the week (weekly or refresh).
select g.week_of,
       count(distinct g.user_id) filter (where g.status = 'succeeded') as people,
       count(*) as generations,
       count(*) filter (where g.status = 'failed') as failed,
       coalesce(sum(g.round_trips), 0)::bigint as round_trips,
       coalesce(sum(g.prompt_tokens), 0)::bigint as prompt_tokens,
       coalesce(sum(g.cache_hit_tokens), 0)::bigint as cached_tokens,
       coalesce(sum(g.completion_tokens), 0)::bigint as completion_tokens
  from public.analysis_generations g
 where g.week_of between %(first)s and %(last)s
 group by g.week_of
 order by g.week_of;

-- name: latest_generated_week
select max(week_of) from public.analysis_generations;

-- name: queue_gauges
-- The live part of the queue for /metrics: unfinished and failed jobs only (the partial
-- indexes of those statuses), never the history of succeeded jobs.
select kind,
       status,
       count(*)::bigint as jobs,
       extract(epoch from now() - min(run_at) filter (where status = 'queued' and run_at <= now()))::float8
         as oldest_queued_seconds
  from public.jobs
 where status in ('queued', 'running', 'failed')
 group by kind, status;

-- name: health_ping
select 1;

-- name: latest_weekly_run
-- The week of the newest scheduled weekly run (jobs_weekly_run_idx, read backwards).
select payload ->> 'week_of'
  from public.jobs
 where kind = 'weekly_analysis' and dedupe_key is not null
 order by payload ->> 'week_of' desc
 limit 1;

-- name: weekly_run_progress
-- Jobs of the run by status, and how many finished in the last %(window)s seconds.
select status,
       count(*)::bigint as jobs,
       count(*) filter (where finished_at > now() - make_interval(secs => %(window)s))::bigint as recent
  from public.jobs
 where kind = 'weekly_analysis' and dedupe_key is not null
   and payload ->> 'week_of' = %(week)s
 group by status;

-- name: weekly_run_failures
-- The run's errors by cause: jobs failed for good, and queued jobs waiting to retry after
-- a failed attempt. The stored error never holds health text (worker/errors.py);
-- numbers are folded so that one cause is one line.
select left(regexp_replace(coalesce(last_error, 'no error recorded'), '[0-9]+', 'N', 'g'), 100) as cause,
       count(*) filter (where status = 'failed')::bigint as failed,
       count(*) filter (where status <> 'failed')::bigint as retrying
  from public.jobs
 where kind = 'weekly_analysis' and dedupe_key is not null
   and payload ->> 'week_of' = %(week)s
   and (status = 'failed' or (status in ('queued', 'running') and last_error is not null))
 group by 1
 order by 2 desc, 3 desc, 1
 limit %(limit)s;

-- name: schedule_health
-- The database's clock, the newest hourly enqueue (every hourly run writes every zone's
-- mark) and whether pg_cron's jobs and run history are in this database ('absent'), and
-- readable by this role (pg_cron lets a role read only the jobs it scheduled). Read from
-- the catalog by oid: a name in a schema this role may not use would be an error.
select now(),
       (select max(m.ran_at) from proxima_private.weekly_enqueue_marks m),
       (select case
                 when count(*) < 2 then 'absent'
                 when pg_catalog.has_schema_privilege(min(n.oid), 'usage')
                  and pg_catalog.bool_and(pg_catalog.has_table_privilege(c.oid, 'select')) then 'readable'
                 else 'unreadable'
               end
          from pg_catalog.pg_class c
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'cron' and c.relname in ('job', 'job_run_details'));

-- name: hourly_enqueue_age
-- /metrics: seconds since the newest hourly enqueue (null before the first).
select extract(epoch from now() - max(m.ran_at))::float8
  from proxima_private.weekly_enqueue_marks m;

-- name: cron_job_runs
-- Our pg_cron jobs (by name) and their runs: the last one, and the last 24 hours'. A run's
-- moment is its start, or its end where it failed before starting (a failed connection).
-- Read only where schedule_health found cron.job_run_details (trimmed to 7 days nightly).
with runs as (
  select j.jobname, d.runid, d.status, d.return_message,
         coalesce(d.start_time, d.end_time) as at,
         extract(epoch from d.end_time - d.start_time)::float8 as seconds
    from cron.job j
    left join cron.job_run_details d on d.jobid = j.jobid
   where j.jobname = any(%(jobs)s)
)
select r.jobname,
       count(*) filter (where r.at >= now() - interval '24 hours') as runs_24h,
       count(*) filter (where r.status = 'failed' and r.at >= now() - interval '24 hours') as failed_24h,
       max(r.at) as last_at,
       (array_agg(r.status order by r.at desc nulls last) filter (where r.runid is not null))[1] as last_status,
       (array_agg(r.seconds order by r.at desc nulls last) filter (where r.runid is not null))[1] as last_seconds,
       max(r.at) filter (where r.status = 'failed') as last_failure_at,
       (array_agg(r.return_message order by r.at desc nulls last) filter (where r.status = 'failed'))[1]
         as last_failure
  from runs r
 group by r.jobname;
