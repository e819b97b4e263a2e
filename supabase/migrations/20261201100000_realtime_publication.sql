-- Realtime: the app hears a new week or a ready PDF without polling.
--
-- Supabase Realtime streams the changes of the tables in the `supabase_realtime`
-- publication to subscribed clients, and checks each row against the table's RLS
-- policies for the subscriber: a person hears only their own rows, as with a select.
--
--   analysis_generations   one row per finished (or failed) week: the signal to re-read
--   health_insights, health_predictions, shadow_patterns, strategic_moves
--                          the week's rows themselves
--   export_history         a PDF export turning 'completed' (with its storage path)
--
-- Guarded: a project where the publication is missing (plain PostgreSQL, or Realtime
-- switched off) gets an empty one first; a table already in it is left as it is, so the
-- migration can run on a project where someone added a table by hand. Nothing else of
-- the publication changes.

do $$
declare
  t text;
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
  if (select puballtables from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    return;  -- a publication "for all tables" already carries every table
  end if;

  foreach t in array array[
    'analysis_generations',
    'health_insights',
    'health_predictions',
    'shadow_patterns',
    'strategic_moves',
    'export_history'
  ] loop
    if not exists (
      select 1
        from pg_catalog.pg_publication_tables
       where pubname = 'supabase_realtime'
         and schemaname = 'public'
         and tablename = t
    ) then
      execute format('alter publication supabase_realtime add table public.%I', t);
    end if;
  end loop;
end
$$;
