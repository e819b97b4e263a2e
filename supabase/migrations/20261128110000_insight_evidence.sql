-- Each insight says what it rests on: the data points (a symptom's weekly counts, the
-- quick scans of a body area, the week's story) that the analysis found, so a reader
-- can tell a grounded observation from a guess. Written by the worker with the rest of
-- the person-week, in the same transaction.

alter table public.health_insights
  add column if not exists evidence jsonb not null default '[]'
    check (jsonb_typeof(evidence) = 'array');
