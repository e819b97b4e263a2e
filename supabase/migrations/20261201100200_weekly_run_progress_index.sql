-- `python -m worker status --watch` follows the scheduled weekly run of one week (jobs of
-- kind weekly_analysis with a dedupe key: refreshes have none) every few seconds while
-- it drains. This index answers "which week is the latest run" and "how many of its
-- jobs are in each status, and when did they finish" without reading the queue's
-- history of other kinds and weeks.
create index if not exists jobs_weekly_run_idx
  on public.jobs ((payload ->> 'week_of'), status) include (finished_at)
  where kind = 'weekly_analysis' and dedupe_key is not null;
