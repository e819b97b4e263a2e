-- The share room's statements, called by name from the share_notification job. They run
-- as the worker (no row-level security) and each names the one share it touches.

-- name: get_share
-- The share the job names, with what the e-mail says about it: who shared (their display
-- name, never their e-mail) and until when. Only doctor shares.
select e.id,
       e.user_id,
       e.recipient_email,
       e.expires_at,
       e.revoked_at,
       e.metadata ->> 'notified_at' as notified_at,
       p.name as display_name
  from public.export_history e
  left join public.profiles p on p.user_id = e.user_id
 where e.id = %(share_id)s
   and e.export_type = 'doctor_share';

-- name: share_base_url
-- Where links point (see supabase/migrations/20261130120000_doctor_shares.sql).
select value
  from proxima_private.settings
 where name = 'share_base_url';

-- name: add_email_token
-- The e-mailed link's token, as its SHA-256 only. Committed before the message is sent,
-- so the link works the moment it arrives.
insert into proxima_private.share_tokens (token_hash, share_id, channel)
values (%(token_hash)s, %(share_id)s, 'email');

-- name: mark_share_notified
-- In the transaction that finishes the job: the owner sees that the e-mail went out.
update public.export_history
   set metadata = coalesce(metadata, '{}'::jsonb)
                  || jsonb_build_object('notified_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
 where id = %(share_id)s
   and export_type = 'doctor_share';

-- name: get_share_for_pdf
-- What the share_pdf job renders: the share's person, its stories, and whether it can
-- still be opened.
select e.id,
       e.user_id,
       e.story_ids,
       e.expires_at,
       e.revoked_at
  from public.export_history e
 where e.id = %(share_id)s
   and e.export_type = 'doctor_share';

-- name: mark_share_pdf_ready
-- In the transaction that finishes the share_pdf job: the share page finds the file.
update public.export_history
   set storage_path = %(storage_path)s,
       file_size_bytes = %(size)s,
       metadata = coalesce(metadata, '{}'::jsonb)
                  || jsonb_build_object('pdf_rendered_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
 where id = %(share_id)s
   and export_type = 'doctor_share';

-- name: share_exists
-- Whether the share is still there (a file is only deleted with its share).
select exists (select 1 from public.export_history where id = %(share_id)s);
