-- A job's person is checked once per statement, not once per row; one index by person
-- instead of two.
--
-- jobs.user_id referenced auth.users through a foreign key: for every inserted row the
-- server ran its own check, an index probe of auth.users that also locks the person's
-- row (for key share), writing to that row's page. For the hourly enqueue that was about
-- a fifth of the cost of each job row (bench/job_insert_cost.py: 68.7 against 55.1 µs a
-- row), 100 to 150 ms of the hour when one zone's 4,000 people are due.
--
-- The same two rules, kept by triggers:
--   * a job names a person who exists: checked after each inserting statement, for all
--     its rows at once (one anti-join against auth.users, no row locks), and whenever an
--     update changes user_id. A violation is the foreign key's own error, SQLSTATE 23503,
--     and the whole statement is undone;
--   * when a person is deleted, their jobs go with them (as the cascade did).
-- The one difference from the foreign key: a job inserted by a transaction that commits while another
-- deletes its person can outlive the person (the row lock made the delete wait). Such a
-- job fails when it writes (every table it writes references auth.users) and is kept as
-- failed with its error; nothing of the person is written.

alter table public.jobs drop constraint if exists jobs_user_id_fkey;

-- Every job row entered jobs_user_idx (user_id) and, with a key, jobs_dedupe_key_idx
-- (dedupe_key): two random-order insertions a row (each 15-17% of a weekly job's insert).
-- Whatever asked either is answered by one index on (user_id, dedupe_key): a person's
-- jobs (the deletion below), and "was this person-week ever enqueued"
-- (the weekly enqueue joins on both columns). Keys of unfinished jobs keep their unique
-- index.
create index if not exists jobs_user_dedupe_idx on public.jobs (user_id, dedupe_key);
drop index if exists public.jobs_user_idx;
drop index if exists public.jobs_dedupe_key_idx;

-- The error the foreign key raised, for both checks below.
create or replace function proxima_private.refuse_job_person(missing uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'insert or update on table "jobs" violates foreign key constraint "jobs_user_id_fkey"'
    using errcode = '23503',
          detail = pg_catalog.format('Key (user_id)=(%s) is not present in table "users".', missing),
          table = 'jobs',
          constraint = 'jobs_user_id_fkey';
end
$$;

revoke execute on function proxima_private.refuse_job_person(uuid) from public, anon, authenticated, service_role;

-- The statement trigger that already reads the inserted rows (to wake the workers once)
-- checks their people in the same pass.
-- security definer: whoever inserts, the check reads auth.users as the queue's owner, as
-- the foreign key's check did.
create or replace function public.notify_jobs_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  kinds text;
  missing uuid;
begin
  select j.user_id into missing
    from inserted_jobs j
   where j.user_id is not null
     and not exists (select 1 from auth.users u where u.id = j.user_id)
   limit 1;
  if found then
    perform proxima_private.refuse_job_person(missing);
  end if;
  select string_agg(distinct kind, ',') into kinds from inserted_jobs;
  if kinds is not null then
    perform pg_notify('proxima_jobs', kinds);
  end if;
  return null;
end
$$;

-- An update that moves a job to another person (the worker never does; a hand edit might).
create or replace function public.check_job_person()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.user_id is not null and not exists (select 1 from auth.users u where u.id = new.user_id) then
    perform proxima_private.refuse_job_person(new.user_id);
  end if;
  return new;
end
$$;

drop trigger if exists jobs_check_person_updated on public.jobs;
create trigger jobs_check_person_updated
  before update of user_id on public.jobs
  for each row
  when (new.user_id is distinct from old.user_id)
  execute function public.check_job_person();

-- A deleted person's jobs go with them.
create or replace function public.delete_jobs_of_deleted_person()
returns trigger
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  delete from public.jobs j where j.user_id = old.id;
  return old;
end
$$;

drop trigger if exists delete_jobs_of_deleted_person on auth.users;
create trigger delete_jobs_of_deleted_person
  after delete on auth.users
  for each row execute function public.delete_jobs_of_deleted_person();

revoke execute on function public.notify_jobs_inserted() from public, anon, authenticated, service_role;
revoke execute on function public.check_job_person() from public, anon, authenticated, service_role;
revoke execute on function public.delete_jobs_of_deleted_person() from public, anon, authenticated, service_role;
