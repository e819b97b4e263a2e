-- A job whose effects are one statement finishes itself in that statement.
--
-- The weekly store is one statement (a CTE per table). Run in the job's completion
-- transaction it took four round trips: BEGIN, the store, finish_job, COMMIT. A statement
-- is atomic by itself, so the store now finishes its job through this function in the
-- same statement: the person-week and the job's success commit together, or nothing
-- does. finish_job (worker/queue/queries.sql), inside a completion transaction, calls it too.
--
-- finish_job_in_statement(job_id, owner, attempt): true when it finished the job; false
-- when called without one (job_id null: a caller that finishes the job in its own
-- transaction); raises SQLSTATE PXL01, undoing the whole statement, when the attempt no
-- longer holds the job's lease.

create or replace function proxima_private.finish_job_in_statement(job_id bigint, owner text, attempt integer)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if job_id is null then
    return false;
  end if;
  update public.jobs j
     set status = 'succeeded',
         finished_at = now(),
         updated_at = now(),
         lease_expires_at = null,
         last_error = null
   where j.id = job_id
     and j.lease_owner = owner
     and j.attempts = attempt
     and j.status = 'running';
  if found then
    return true;
  end if;
  raise exception 'job % is no longer held by this attempt: its lease was lost', job_id
    using errcode = 'PXL01';
end
$$;

revoke execute on function proxima_private.finish_job_in_statement(bigint, text, integer)
  from public, anon, authenticated;
grant execute on function proxima_private.finish_job_in_statement(bigint, text, integer) to service_role;
