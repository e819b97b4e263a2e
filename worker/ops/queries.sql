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
