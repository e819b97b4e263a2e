-- E-mailing a share that already exists, by its link: the app's share dialog makes the share
-- first and then asks for the e-mail (POST /api/send-share-email { share_link,
-- recipient_email }); until now only create_doctor_share could send one.
--
--   rpc('send_share_email', { share_link, recipient_email, time_zone })
--     -> { share_id, notification_job_id, expires_at }
--
--   no JWT subject                                  PT401
--   a link or token no share of the caller's has    PT404  (the same for another person's)
--   the share is revoked or expired                 PT410
--   recipient_email missing or not plausible        22023  (nothing changed)
--   the day's 20 share actions used                 PT429  (it counts as one)
--   an e-mail of the share is being sent just now    PT409  (try again; nothing changed)
--
-- The link is the caller's own, so they hold its token: the token is only hashed here, to
-- find the share, and is stored nowhere. The e-mail goes out as create_doctor_share's does:
-- a share_notification job, and the worker mints the e-mail's own link when it sends it.
-- The share's recipient becomes this one, and a share already e-mailed is e-mailed again
-- (to a second doctor, or the same one once more). While an earlier e-mail of the share
-- is still waiting in the queue, that job is the answer and no second one is added: it
-- reads the recipient when it runs, so it goes to this one. One being sent at this moment
-- may have read the earlier recipient: then the call is refused, to be tried again.

create or replace function proxima_private.plausible_email(address text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.length(address) <= 254
     and address ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'
     and address !~ '(^\.|\.\.|\.@)'
$$;

revoke execute on function proxima_private.plausible_email(text) from public, anon, authenticated;

create or replace function public.send_share_email(
  share_link text,
  recipient_email text,
  time_zone text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := public.api_caller('e-mail a share', send_share_email.time_zone);
  recipient text := nullif(pg_catalog.btrim(send_share_email.recipient_email), '');
  token text := pg_catalog.substring(
    pg_catalog.btrim(coalesce(send_share_email.share_link, '')), '(?:^|/)([A-Za-z0-9_-]{22,128})/?$'
  );
  share public.export_history%rowtype;
  job_id bigint;
  job_status text;
begin
  if recipient is null or not proxima_private.plausible_email(recipient) then
    raise exception 'recipient_email is not a plausible e-mail address'
      using errcode = '22023',
            hint = 'Give an address like name@example.org.';
  end if;

  select e.* into share
    from proxima_private.share_tokens t
    join public.export_history e on e.id = t.share_id
   where token is not null
     and t.token_hash = pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8'))
     and e.user_id = caller
     and e.export_type = 'doctor_share'
     for update of e;
  if not found then
    raise exception 'that link is not one of your shares' using errcode = 'PT404';
  end if;
  if share.revoked_at is not null or share.expires_at <= pg_catalog.now() then
    raise exception 'that share has expired or was revoked; make a new one' using errcode = 'PT410';
  end if;

  perform public.take_daily_allowance(caller, 'doctor_share', 20);

  update public.export_history e
     set recipient_email = recipient,
         metadata = coalesce(e.metadata, '{}'::jsonb) - 'notified_at'
   where e.id = share.id;

  select j.id, j.status into job_id, job_status
    from public.jobs j
   where j.dedupe_key = 'share_notification:' || share.id
     and j.status in ('queued', 'running');
  if job_status = 'running' then
    -- It may have read the earlier recipient already; undone with the whole call.
    raise exception 'an e-mail of this share is being sent right now; try again in a minute'
      using errcode = 'PT409';
  end if;
  if job_id is null then
    insert into public.jobs (kind, user_id, payload, priority, dedupe_key)
    values (
      'share_notification',
      caller,
      jsonb_build_object('share_id', share.id),
      -5,
      'share_notification:' || share.id
    )
    returning id into job_id;
  end if;

  return jsonb_build_object(
    'share_id', share.id,
    'notification_job_id', job_id,
    'expires_at', share.expires_at
  );
end
$$;

revoke execute on function public.send_share_email(text, text, text) from public, anon, service_role;
grant execute on function public.send_share_email(text, text, text) to authenticated;
