-- The migration ledger, shared with the Supabase CLI (`supabase db push` records
-- applied versions in the same table, so both tools agree on what is pending).

-- name: lock_migrations
-- One migrator at a time per database; held for the session.
select pg_advisory_lock(hashtext('supabase_migrations.schema_migrations'));

-- name: unlock_migrations
select pg_advisory_unlock(hashtext('supabase_migrations.schema_migrations'));

-- name: create_ledger
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;

-- name: applied_versions
select version from supabase_migrations.schema_migrations order by version;

-- name: record_migration
insert into supabase_migrations.schema_migrations (version, name, statements)
values (%(version)s, %(name)s, %(statements)s);

-- name: supabase_present
-- The local bootstrap is needed only where Supabase's own schemas are missing.
select to_regclass('auth.users') is not null and to_regclass('storage.objects') is not null;
