-- PDF exports: a person picks some of their stories and asks for a PDF; the worker
-- renders it in the background and stores it in the private `health-exports` bucket.
--
--   rpc('request_pdf_export', { story_ids: [...], include_analysis: true, include_notes: false })
--     -> the export's id; the app watches that export_history row until it is ready.
--
-- The request writes, in one transaction, an export_history row (status 'pending') and
-- an `export_pdf` job whose payload names the export. The worker's handler reads the
-- export, renders it, uploads `<user_id>/<export_id>.pdf` and marks the row 'ready' in
-- the transaction that finishes the job. When the job fails for good, a trigger on the
-- queue marks the export 'failed' with the job's error; when `retry-failed` puts the
-- job back on the queue, the same trigger makes the export 'pending' again. So the
-- export's status always follows its job, whoever moves the job.
--
-- Older export rows and doctor shares have no status (null): status describes only a
-- file that is being, or has been, rendered.

alter table public.export_history
  add column if not exists status text
    constraint export_history_status_check check (status in ('pending', 'ready', 'failed')),
  add column if not exists storage_path text,
  add column if not exists error text,
  add column if not exists completed_at timestamptz;

-- The app lists a person's exports newest first.
create index if not exists idx_export_history_user_created
  on public.export_history (user_id, created_at desc);

-- The signed-in person asks for a PDF of some of their own stories. Definer, because
-- people may write neither export_history nor the queue; the person is always
-- auth.uid(), never an argument. PostgREST answers SQLSTATE PTxyz with HTTP status
-- xyz and 22xxx with 400. Every refusal happens before anything is written.
--
--   no JWT subject                         PT401  sign in to export your stories
--   null or empty list                     22023  choose at least one story to export
--   a null id in the list                  22004  a story id in the list is null
--   more than 100 distinct stories         22023  an export holds at most 100 stories; N were chosen
--   an id that is not the caller's story   PT403  story <id> is not one of your stories
--
-- The last message is the same for another person's story and for an id that exists
-- nowhere, so the API never tells anyone whether a story exists. Repeated ids count
-- once and are kept at their first position. A null option means its default (true).
create or replace function public.request_pdf_export(
  story_ids uuid[],
  include_analysis boolean default true,
  include_notes boolean default true
)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  max_stories constant integer := 100;
  caller uuid := auth.uid();
  chosen uuid[];
  chosen_count integer;
  not_yours uuid;
  new_export_id uuid;
begin
  if caller is null then
    raise exception 'sign in to export your stories' using errcode = 'PT401';
  end if;

  if coalesce(pg_catalog.cardinality(request_pdf_export.story_ids), 0) = 0 then
    raise exception 'choose at least one story to export' using errcode = '22023';
  end if;

  if pg_catalog.array_position(request_pdf_export.story_ids, null) is not null then
    raise exception 'a story id in the list is null' using errcode = '22004';
  end if;

  -- Distinct ids, each at the position where it first appears.
  select pg_catalog.array_agg(d.id order by d.first_position)
    into chosen
  from (
    select given.id, min(given.ord) as first_position
    from unnest(request_pdf_export.story_ids) with ordinality as given (id, ord)
    group by given.id
  ) d;
  chosen_count := pg_catalog.cardinality(chosen);

  if chosen_count > max_stories then
    raise exception 'an export holds at most % stories; % were chosen', max_stories, chosen_count
      using errcode = '22023';
  end if;

  -- The first id, in the caller's order, that is not one of the caller's stories.
  select c.id
    into not_yours
  from unnest(chosen) with ordinality as c (id, ord)
  where not exists (
    select 1 from public.health_stories s where s.id = c.id and s.user_id = caller
  )
  order by c.ord
  limit 1;

  if not_yours is not null then
    raise exception 'story % is not one of your stories', not_yours
      using errcode = 'PT403',
            hint = 'An export can hold only stories from your own history.';
  end if;

  insert into public.export_history (user_id, export_type, story_ids, status, metadata)
  values (
    caller,
    'pdf',
    chosen,
    'pending',
    jsonb_build_object(
      'include_analysis', coalesce(request_pdf_export.include_analysis, true),
      'include_notes', coalesce(request_pdf_export.include_notes, true)
    )
  )
  returning id into new_export_id;

  -- Ahead of the Monday batch (0), behind a person's own refresh (10).
  insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
  values (
    'export_pdf',
    caller,
    jsonb_build_object('export_id', new_export_id),
    5,
    'export_pdf:' || new_export_id
  );

  return new_export_id;
end
$$;

-- Signed-in people only: anon has no stories, and service_role has no auth.uid().
-- Supabase's default privileges would grant all three.
revoke execute on function public.request_pdf_export(uuid[], boolean, boolean)
  from public, anon, service_role;
grant execute on function public.request_pdf_export(uuid[], boolean, boolean) to authenticated;

-- The export follows its job. A failed export_pdf job (the worker gave up, or a lost
-- lease on the last attempt) fails its export with the job's error; a failed job put
-- back on the queue (`retry-failed`) makes its export pending again. A ready export
-- keeps its file whatever happens to the job afterwards.
--
-- The export id comes from the job's payload. A payload without a well-formed uuid
-- there (written by hand, say) is ignored: a bad cast here would abort the queue's own
-- update and leave the job stuck in 'running' until its lease expired, again and again.
-- Definer, so the job's update works whoever makes it (the worker as service_role, an
-- operator as postgres).
create or replace function public.sync_pdf_export_with_job()
returns trigger
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  raw_id text := new.payload ->> 'export_id';
  target uuid;
begin
  if raw_id is null
     or raw_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return null;
  end if;
  target := raw_id::uuid;

  if new.status = 'failed' then
    update public.export_history e
       set status = 'failed',
           error = new.last_error,
           completed_at = now()
     where e.id = target
       and e.export_type = 'pdf'
       and e.status is distinct from 'ready';
  elsif new.status = 'queued' and old.status = 'failed' then
    update public.export_history e
       set status = 'pending',
           error = null,
           completed_at = null
     where e.id = target
       and e.export_type = 'pdf'
       and e.status = 'failed';
  end if;

  return null;
end
$$;

-- A trigger function cannot be called directly anyway; nobody gets to try.
revoke execute on function public.sync_pdf_export_with_job() from public, anon, authenticated, service_role;

-- The WHEN clauses keep every other update of the queue (claims, heartbeats, finishes
-- of the Monday batch) from calling the function at all.
drop trigger if exists jobs_export_pdf_failed on public.jobs;
create trigger jobs_export_pdf_failed
  after update of status on public.jobs
  for each row
  when (new.kind = 'export_pdf' and new.status = 'failed' and old.status is distinct from 'failed')
  execute function public.sync_pdf_export_with_job();

drop trigger if exists jobs_export_pdf_retried on public.jobs;
create trigger jobs_export_pdf_retried
  after update of status on public.jobs
  for each row
  when (new.kind = 'export_pdf' and new.status = 'queued' and old.status = 'failed')
  execute function public.sync_pdf_export_with_job();
