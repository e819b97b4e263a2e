-- "Next job of these kinds": the claim of a worker limited to some kinds (`--kinds`).
--
-- jobs_next_idx orders every queued job by (priority desc, run_at, id) whatever its kind,
-- so a worker that runs only `export_pdf` had to walk past every queued job of other
-- kinds ahead of it (the Monday batch: 90,000 rows, about 25 ms a claim). Here each kind
-- has its own range in claim order; the claim (`claim_jobs_of_kinds` in
-- worker/queue/queries.sql) walks one range per asked kind and merges their heads, so
-- its cost no longer depends on how many jobs of other kinds wait. The unfiltered claim
-- keeps jobs_next_idx.
create index if not exists jobs_next_by_kind_idx
  on public.jobs (kind, priority desc, run_at, id)
  where status = 'queued';
