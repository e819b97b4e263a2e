-- A private Storage bucket for exported PDFs. Objects live at
-- `<user_id>/<export_id>.pdf`; a person may read only objects in the folder named by
-- their own user id. Only the worker (service role) uploads.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('health-exports', 'health-exports', false, 52428800, array['application/pdf'])
on conflict (id) do update
  set public = false,
      file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types;

drop policy if exists "Users can read their own exports" on storage.objects;
create policy "Users can read their own exports" on storage.objects
  for select to authenticated
  using (
    bucket_id = 'health-exports'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );
