-- The demo's doctor share: made as the person (through the RPC's own checks), with the
-- link pointing at the functions server the demo started.

-- name: set_share_base_url
update proxima_private.settings set value = %(url)s where name = 'share_base_url';

-- name: act_as_user
select set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', %(claims)s, true);

-- name: create_share
select public.create_doctor_share(
  (select array_agg(s.id order by s.generated_date) from public.health_stories s where s.user_id = %(user_id)s),
  %(recipient)s,
  14
);

-- name: share_jobs_done
-- The share's e-mail and its PDF, each done (or given up).
select count(*) from public.jobs
 where kind in ('share_notification', 'share_pdf') and status in ('succeeded', 'failed');
