-- the cost report (python -m worker costs) reads generations by week across everyone:
-- an index by week_of keeps it a range scan as the table grows by a row per person-week.
create index if not exists idx_analysis_generations_week
  on public.analysis_generations (week_of);
