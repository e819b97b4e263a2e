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
