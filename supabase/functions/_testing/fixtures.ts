// Test fixtures shared by the functions' Deno tests: a real, migrated Postgres database
// (DATABASE_URL, a superuser URL; tests/share/test_edge_functions.py passes one of the
// test harness's databases) and a few rows written as the app and the worker write them.
// Not deployed: Supabase skips folders whose names start with an underscore.

import { createHmac } from "node:crypto";
import postgres from "npm:postgres@3.4.7";

const url = Deno.env.get("DATABASE_URL");
if (!url) throw new Error("DATABASE_URL (a migrated test database) is not set");
export const databaseUrl: string = url;

export const sql = postgres(databaseUrl, { max: 4, prepare: false, onnotice: () => {} });

/** Deno.test for tests that share the connection pool above. */
export function dbTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

export async function addPerson(name: string | null = "Maya Lind", timeZone = "UTC"): Promise<string> {
  const id = crypto.randomUUID();
  await sql`insert into auth.users (id, email, role, aud)
            values (${id}, ${id.slice(0, 12) + "@people.example.com"}, 'authenticated', 'authenticated')`;
  await sql`insert into public.profiles (user_id, name, timezone) values (${id}, ${name}, ${timeZone})`;
  return id;
}

export async function addStory(
  userId: string,
  title: string,
  text: string,
  generated: Date = new Date(),
): Promise<string> {
  const [row] = await sql`insert into public.health_stories (user_id, title, subtitle, story_text, generated_date)
                          values (${userId}, ${title}, 'Weekly story', ${text}, ${generated}) returning id`;
  return row.id as string;
}

export async function addNote(userId: string, storyId: string, text: string): Promise<void> {
  await sql`insert into public.story_notes (user_id, story_id, note_text) values (${userId}, ${storyId}, ${text})`;
}

/** The Monday (UTC) of a moment, as YYYY-MM-DD. */
export function mondayOf(moment: Date): string {
  const day = new Date(Date.UTC(moment.getUTCFullYear(), moment.getUTCMonth(), moment.getUTCDate()));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return day.toISOString().slice(0, 10);
}

/** One row in each of the four report tables for the week, each carrying `text`. */
export async function addWeek(userId: string, storyId: string, weekOf: string, text: string): Promise<void> {
  await sql`insert into public.health_insights (user_id, story_id, insight_type, title, description, confidence, week_of)
            values (${userId}, ${storyId}, 'warning', ${"Insight " + text}, ${"Because " + text}, 70, ${weekOf})`;
  await sql`insert into public.health_predictions (user_id, story_id, event_description, probability, timeframe,
              preventable, reasoning, week_of)
            values (${userId}, ${storyId}, ${"Prediction " + text}, 40, 'this week', true, ${"Reasoning " + text},
                    ${weekOf})`;
  await sql`insert into public.shadow_patterns (user_id, pattern_name, last_seen_description, significance,
              days_missing, week_of)
            values (${userId}, ${"Pattern " + text}, ${"Last seen " + text}, 'high', 9, ${weekOf})`;
  await sql`insert into public.strategic_moves (user_id, strategy, strategy_type, priority, rationale, week_of)
            values (${userId}, ${"Move " + text}, 'prevention', 8, ${"Rationale " + text}, ${weekOf})`;
  const findings = sql.json([{ kind: "co_occurrence", sentence: "Finding " + text }]);
  await sql`insert into public.analysis_generations (user_id, week_of, status, trigger, period_start, period_end,
              time_zone, findings)
            values (${userId}, ${weekOf}, 'succeeded', 'weekly', ${weekOf}::date - 7, ${weekOf}::date, 'UTC',
                    ${findings})`;
}

/** create_doctor_share as the person, exactly as PostgREST would run it. */
export async function createShare(
  userId: string,
  storyIds: string[],
  expiresInDays = 30,
): Promise<{ share_id: string; share_link: string; token: string; expires_at: string }> {
  const claims = JSON.stringify({ sub: userId, role: "authenticated" });
  const [row] = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    return await tx`select public.create_doctor_share(${storyIds}::uuid[], null, ${expiresInDays}) as share`;
  });
  const share = row.share as { share_id: string; share_link: string; expires_at: string };
  return { ...share, token: share.share_link.slice(share.share_link.lastIndexOf("/") + 1) };
}

// -- JWTs as Supabase Auth issues them (HS256) -------------------------------------------------

export const JWT_SECRET = "test-jwt-secret-with-at-least-32-characters!";

function base64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function signJwt(
  claims: Record<string, unknown>,
  { secret = JWT_SECRET, header = { alg: "HS256", typ: "JWT" } }: {
    secret?: string;
    header?: Record<string, unknown>;
  } = {},
): string {
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createHmac("sha256", secret).update(unsigned).digest();
  return `${unsigned}.${base64url(new Uint8Array(signature))}`;
}

/** A signed-in person's access token, valid for an hour. */
export function userJwt(userId: string, extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({
    sub: userId,
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + 3600,
    ...extra,
  });
}
