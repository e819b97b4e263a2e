-- A doctor share has its report as a PDF too: the share page offers it for download, and
-- where the page itself cannot be HTML it is the page.
--
-- The hosted platform serves HTML from Edge Functions only on a custom domain (elsewhere a
-- GET answered with text/html is rewritten to text/plain, and the doctor would see the
-- page's source). A PDF is served as it is everywhere. So every share gets its PDF:
--   * a share_pdf job is enqueued with the share (a trigger on export_history, so every way
--     a share is made gets one); the worker renders the shared stories and the analysis of
--     their weeks as the PDF export renders them, uploads the file to the exports bucket at
--     <user id>/shares/<share id>/report.pdf and records its path on the share, in the
--     transaction that finishes the job;
--   * when the share's row goes (the nightly purge of shares expired or revoked 30 days
--     before, or the person's deletion) its file goes too: a delete_share_pdf job, with the
--     ids in its payload and no user_id (so a person's cascade leaves it in place), removes
--     the share's folder;
--   * get_shared_report_file(token, user_agent) is what the share page calls for the file:
--     the same checks as get_shared_report (an unknown token PT404; expired or revoked PT410),
--     the view counted and logged as every view is, and then { path } (null while the file
--     is being made). The share page's role may execute it; anon may not.
-- Shares made before this migration that can still be opened get their job here.

create or replace function proxima_private.enqueue_share_pdf()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
  values ('share_pdf', new.user_id, jsonb_build_object('share_id', new.id), -5, 'share_pdf:' || new.id);
  return null;
end
$$;

revoke execute on function proxima_private.enqueue_share_pdf() from public, anon, authenticated, service_role;

create or replace function proxima_private.enqueue_share_pdf_deletion()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
  values (
    'delete_share_pdf',
    null,
    jsonb_build_object('user_id', old.user_id, 'share_id', old.id),
    -10,
    'delete_share_pdf:' || old.id
  )
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running')
  do nothing;
  return null;
end
$$;

revoke execute on function proxima_private.enqueue_share_pdf_deletion()
  from public, anon, authenticated, service_role;

drop trigger if exists export_history_share_pdf_deletion on public.export_history;
create trigger export_history_share_pdf_deletion
  after delete on public.export_history
  for each row
  when (old.export_type = 'doctor_share' and old.storage_path is not null)
  execute function proxima_private.enqueue_share_pdf_deletion();

drop trigger if exists export_history_share_pdf on public.export_history;
create trigger export_history_share_pdf
  after insert on public.export_history
  for each row
  when (new.export_type = 'doctor_share')
  execute function proxima_private.enqueue_share_pdf();

insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
select 'share_pdf', e.user_id, jsonb_build_object('share_id', e.id), -5, 'share_pdf:' || e.id
  from public.export_history e
 where e.export_type = 'doctor_share'
   and e.revoked_at is null
   and e.expires_at > pg_catalog.now()
   and e.storage_path is null
   and not exists (select 1 from public.jobs j where j.dedupe_key = 'share_pdf:' || e.id);

-- The share's PDF, for the share page: a view of the share like any other.
create or replace function public.get_shared_report_file(token text, user_agent text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  path text;
begin
  -- Refuses an unknown, expired or revoked link, and counts and logs the view.
  perform public.get_shared_report(get_shared_report_file.token, get_shared_report_file.user_agent);
  select e.storage_path into path
    from proxima_private.share_tokens t
    join public.export_history e on e.id = t.share_id
   where t.token_hash = pg_catalog.sha256(pg_catalog.convert_to(get_shared_report_file.token, 'UTF8'))
     and e.export_type = 'doctor_share';
  return jsonb_build_object('path', path);
end
$$;

revoke execute on function public.get_shared_report_file(text, text) from public, anon, authenticated, service_role;
grant execute on function public.get_shared_report_file(text, text) to proxima_share_reader;
