-- The product guide's `GET /api/health-analysis` as one RPC: the signed-in person's
-- weekly report (insights, predictions, shadow patterns, strategic moves) together with
-- the generation that wrote it, in a single round trip:
--
--   rpc('get_health_analysis')                          -- the week the app should show
--   rpc('get_health_analysis', { week_of: '2026-11-23' }) -- a week from the history
--
-- It reads as the caller (security invoker), so the tables' row-level security decides
-- what it can see; the explicit `user_id = caller` filters say the same thing again and
-- let the planner use the (user_id, week_of) indexes. Nothing is written.
--
-- Which week, when none is asked for: the caller's current week in their own time zone
-- if it has an analysis; otherwise the latest week that has one (early on a Monday the
-- new week's analysis may not be written yet, and last week's is what the app should
-- show); otherwise, for someone who has never had an analysis, the current week with
-- empty lists. "Has an analysis" means a succeeded generation: a running, failed or
-- skipped one wrote nothing worth showing.

create or replace function public.get_health_analysis(week_of date default null)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  current_week date;
  chosen_week date;
  latest_generation_id uuid;
  latest_generated_at timestamptz;
begin
  -- PostgREST answers SQLSTATE PTxyz with HTTP status xyz.
  if caller is null then
    raise exception 'sign in to read your analysis' using errcode = 'PT401';
  end if;

  if get_health_analysis.week_of is not null then
    -- Every report row's week_of is a Monday (a CHECK says so): any other day would
    -- silently match nothing, so say what is wrong instead.
    if extract(isodow from get_health_analysis.week_of) <> 1 then
      raise exception 'week_of must be a Monday; % is a %',
        to_char(get_health_analysis.week_of, 'YYYY-MM-DD'),
        to_char(get_health_analysis.week_of, 'FMDay')
        using errcode = '22023',
              hint = 'Pass the Monday that starts the week, or omit week_of for the latest analysis.';
    end if;
    chosen_week := get_health_analysis.week_of;
  else
    current_week := public.user_week_of(caller);
    if exists (
      select 1 from public.analysis_generations g
      where g.user_id = caller and g.week_of = current_week and g.status = 'succeeded'
    ) then
      chosen_week := current_week;
    else
      -- The latest analysed week, even one after the current week (possible after the
      -- person moved to a time zone further west): it is still their newest report.
      select max(g.week_of) into chosen_week
      from public.analysis_generations g
      where g.user_id = caller and g.status = 'succeeded';
      chosen_week := coalesce(chosen_week, current_week);
    end if;
  end if;

  -- The week's latest succeeded generation (refreshes add more than one): when it
  -- finished, or when it started if it never recorded a finish.
  select g.id, coalesce(g.completed_at, g.created_at)
    into latest_generation_id, latest_generated_at
  from public.analysis_generations g
  where g.user_id = caller and g.week_of = chosen_week and g.status = 'succeeded'
  order by coalesce(g.completed_at, g.created_at) desc, g.created_at desc, g.id desc
  limit 1;

  -- The lists hold the week's rows whether or not a generation is recorded for it: rows
  -- written before analysis_generations existed have none and are still the report.
  -- Each row is its table's columns minus user_id (the caller knows who they are).
  -- to_jsonb writes dates and timestamps in ISO 8601 whatever the session's DateStyle;
  -- week_of goes through to_char for the same reason. Orders, most useful first, with
  -- created_at (oldest first) and id as tie-breakers so the order is always the same:
  --   insights         confidence, highest first (unrated last)
  --   predictions      probability, highest first (unrated last)
  --   shadow patterns  significance high, medium, low (unrated last), then the pattern
  --                    missing longest first: the longer the silence, the more telling
  --   strategic moves  priority, highest first: 10 is the most important
  return jsonb_build_object(
    'week_of', to_char(chosen_week, 'YYYY-MM-DD'),
    'generated_at', latest_generated_at,
    'generation_id', latest_generation_id,
    'insights', coalesce((
      select jsonb_agg(to_jsonb(i) - 'user_id'
                       order by i.confidence desc nulls last, i.created_at, i.id)
      from public.health_insights i
      where i.user_id = caller and i.week_of = chosen_week
    ), '[]'::jsonb),
    'predictions', coalesce((
      select jsonb_agg(to_jsonb(p) - 'user_id'
                       order by p.probability desc nulls last, p.created_at, p.id)
      from public.health_predictions p
      where p.user_id = caller and p.week_of = chosen_week
    ), '[]'::jsonb),
    'shadow_patterns', coalesce((
      select jsonb_agg(to_jsonb(s) - 'user_id'
                       order by case s.significance when 'high' then 1 when 'medium' then 2
                                                    when 'low' then 3 else 4 end,
                                s.days_missing desc nulls last, s.created_at, s.id)
      from public.shadow_patterns s
      where s.user_id = caller and s.week_of = chosen_week
    ), '[]'::jsonb),
    'strategic_moves', coalesce((
      select jsonb_agg(to_jsonb(m) - 'user_id'
                       order by m.priority desc nulls last, m.created_at, m.id)
      from public.strategic_moves m
      where m.user_id = caller and m.week_of = chosen_week
    ), '[]'::jsonb)
  );
end
$$;

-- Signed-in people only: anon has no analysis, and service_role has no auth.uid() (it
-- reads the tables directly). Supabase's default privileges would grant all three.
revoke execute on function public.get_health_analysis(date) from public, anon, service_role;
grant execute on function public.get_health_analysis(date) to authenticated;
