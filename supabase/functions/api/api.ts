// The product guide's HTTP routes, for the app's existing calls (Supabase Edge Function `api`):
//
//   POST /api/generate-weekly-analysis   { user_id }                 -> refresh, wait (bounded)
//   GET  /api/health-analysis/<user_id>  ?week_of=YYYY-MM-DD         -> the week's report
//   POST /api/export-pdf                 { user_id, story_ids, include_analysis }
//                                        -> { pdf_url } (one-hour signed URL) or 202 { export_id }
//   GET  /api/export-pdf/<export_id>     -> the same answer, to poll a 202
//   POST /api/share-with-doctor          { user_id, story_ids, recipient_email, expires_in_days }
//   POST /api/send-share-email           { share_link, recipient_email }   -> e-mail a share made before
//
// (The guide's fifth route, GET /shared/<token>, is the `shared-report` function.)
//
// Guarantees:
// * The caller is the subject of a JWT verified here (jwt.ts: the project's signing keys or
//   its legacy secret), whatever the gateway did; a user_id in a path or body that is not the
//   caller's is a 403. When the keys cannot be had just now, a 503.
// * Every database call runs as PostgREST runs it: in a transaction, role authenticated,
//   request.jwt.claims set to the verified claims. So our RPCs apply their own checks,
//   and row-level security applies to every read.
// * Errors are JSON { status: "error", code, message, detail: { code, message } } (detail as
//   the guide's FastAPI answered, which the app reads) with the HTTP status PostgREST would
//   give: PT401 401, PT403 403, PT404 404, PT409 409, PT410 410, PT429 429, bad input (22xxx) 422;
//   anything unexpected is a 500 without details. Nothing of a request body, a token or
//   a health text is logged.

import postgres from "npm:postgres@3.4.7";
import { type Claims, JwtError, KeysUnavailable, type TokenVerifier } from "./jwt.ts";

type Sql = ReturnType<typeof postgres>;
type Tx = postgres.TransactionSql<Record<string, unknown>>;

export interface ApiConfig {
  /** Verifies the caller's access token (jwt.ts, createTokenVerifier). */
  verifyToken: TokenVerifier;
  /** SUPABASE_URL and SUPABASE_ANON_KEY, for signing download URLs as the caller. */
  supabaseUrl?: string;
  anonKey?: string;
  /** The exports bucket (default health-exports). */
  bucket?: string;
  /** How long POST /api/export-pdf waits for the worker (default 20 s). */
  exportWaitMs?: number;
  /** How long POST /api/generate-weekly-analysis waits for the worker (default 25 s). */
  analysisWaitMs?: number;
  pollMs?: number;
}

export interface Logger {
  info(message: string, fields: Record<string, unknown>): void;
}

const consoleLogger: Logger = {
  info(message, fields) {
    console.log(JSON.stringify({ level: "info", message, ...fields }));
  },
};

const CORS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Max-Age": "86400",
};
const SIGNED_URL_SECONDS = 3600;
const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      ...CORS,
      ...extra,
    },
  });
}

function errorResponse(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  const headers: Record<string, string> = status === 401 ? { "WWW-Authenticate": 'Bearer error="invalid_token"' } : {};
  return json(status, { status: "error", code, message, detail: { code, message }, ...extra }, headers);
}

const SQLSTATE_STATUS: Record<string, number> = {
  PT401: 401,
  PT403: 403,
  PT404: 404,
  PT409: 409,
  PT410: 410,
  PT429: 429,
  "42501": 403,
};

/** The HTTP status PostgREST gives a SQLSTATE (bad input as 422), or 500. */
export function statusOfSqlstate(code: string | undefined): number {
  if (!code) return 500;
  if (code in SQLSTATE_STATUS) return SQLSTATE_STATUS[code];
  if (code.startsWith("22")) return 422;
  return 500;
}

function databaseError(error: unknown): Response {
  const { code, message, hint } = error as { code?: string; message?: string; hint?: string };
  const status = statusOfSqlstate(code);
  if (status === 500) throw error;
  return errorResponse(status, code ?? "", message ?? "refused", hint ? { hint } : {});
}

// -- request parsing --------------------------------------------------------------------------

function bearer(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  const match = header.match(/^Bearer\s+(\S+)$/i);
  if (!match) throw new HttpError(401, "sign in: send the session's access token as Authorization: Bearer <jwt>");
  return match[1];
}

/** The body's bytes, refused as soon as they pass MAX_BODY_BYTES (never read whole first). */
async function cappedBody(request: Request): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, "the body is too large");
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        throw new HttpError(413, "the body is too large");
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await cappedBody(request));
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(422, "the body is not UTF-8");
  }
  let value: unknown;
  try {
    value = text.trim() ? JSON.parse(text) : {};
  } catch {
    throw new HttpError(422, "the body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(422, "the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** A user_id given by the app must be the caller's own. */
function ownUserId(given: unknown, claims: Claims): void {
  if (given === undefined || given === null) return;
  if (typeof given !== "string" || given.toLowerCase() !== claims.sub.toLowerCase()) {
    throw new HttpError(403, "user_id is not the signed-in person's id");
  }
}

const IS: Record<"string" | "number" | "boolean", (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number",
  boolean: (value) => typeof value === "boolean",
};

function optional<T>(body: Record<string, unknown>, name: string, type: keyof typeof IS, fallback: T): T {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (!IS[type](value)) throw new HttpError(422, `${name} must be a ${type}`);
  return value as T;
}

function storyIds(body: Record<string, unknown>): string[] {
  const value = body.story_ids;
  if (!Array.isArray(value) || !value.every((id) => typeof id === "string")) {
    throw new HttpError(422, "story_ids must be a list of story ids");
  }
  return value as string[];
}

/** A path segment, decoded; a 404 when it is not valid percent-encoding (no 500). */
function pathPart(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(404, "no such route");
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// -- the handler ------------------------------------------------------------------------------

export function createApiHandler(
  sql: Sql,
  config: ApiConfig,
  log: Logger = consoleLogger,
): (request: Request) => Promise<Response> {
  const exportWaitMs = config.exportWaitMs ?? 20_000;
  const analysisWaitMs = config.analysisWaitMs ?? 25_000;
  const pollMs = config.pollMs ?? 500;
  const bucket = config.bucket ?? "health-exports";

  /** `work` in one transaction as the caller, exactly as PostgREST runs a request. */
  function asCaller<T>(claims: Claims, work: (tx: Tx) => Promise<T>): Promise<T> {
    return sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return await work(tx);
    }) as Promise<T>;
  }

  async function signedUrl(jwt: string, path: string): Promise<string> {
    if (!config.supabaseUrl || !config.anonKey) {
      throw new HttpError(503, "downloads are not configured here (SUPABASE_URL and SUPABASE_ANON_KEY)");
    }
    const object = path.split("/").map(encodeURIComponent).join("/");
    const response = await fetch(`${config.supabaseUrl}/storage/v1/object/sign/${bucket}/${object}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}`, apikey: config.anonKey, "Content-Type": "application/json" },
      body: JSON.stringify({ expiresIn: SIGNED_URL_SECONDS }),
    });
    const answer = await response.json().catch(() => ({})) as { signedURL?: string };
    if (!response.ok || typeof answer.signedURL !== "string") {
      throw new HttpError(502, `storage did not sign the download (HTTP ${response.status})`);
    }
    return `${config.supabaseUrl}/storage/v1${answer.signedURL}`;
  }

  /** The export's state now, or after waiting up to `waitMs` for the worker. `base`: the
   * request's origin and the functions' prefix, for the absolute poll URL of a 202. */
  async function exportAnswer(
    claims: Claims,
    jwt: string,
    exportId: string,
    waitMs: number,
    base: string,
  ): Promise<Response> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const rows = await asCaller(claims, (tx) =>
        tx`select status, storage_path, error from public.export_history
            where id = ${exportId}::uuid and export_type = 'pdf'`);
      if (rows.length === 0) return errorResponse(404, "PT404", `export ${exportId} is not one of your exports`);
      const { status, storage_path: path, error } = rows[0] as { status: string; storage_path: string; error: string };
      if (status === "ready") {
        return json(200, {
          status: "success",
          pdf_url: await signedUrl(jwt, path),
          expires_in: SIGNED_URL_SECONDS,
          export_id: exportId,
        });
      }
      if (status === "failed") {
        return errorResponse(500, "export_failed", "the export failed", { export_id: exportId, error });
      }
      if (Date.now() + pollMs > deadline) {
        return json(202, { status: "pending", export_id: exportId, poll: `${base}/api/export-pdf/${exportId}` });
      }
      await sleep(pollMs);
    }
  }

  async function generateWeeklyAnalysis(request: Request, claims: Claims): Promise<Response> {
    const body = await jsonBody(request);
    ownUserId(body.user_id, claims);
    const timeZone = optional<string | null>(body, "time_zone", "string", null);
    let started: { r: Record<string, unknown>; at: Date };
    try {
      [started] = await asCaller(
        claims,
        (tx) => tx`select public.request_analysis_refresh(${timeZone}) as r, now() as at`,
      ) as unknown as [
        { r: Record<string, unknown>; at: Date },
      ];
    } catch (error) {
      if ((error as { code?: string }).code === "PT429") {
        const message = "Weekly refresh limit reached";
        return json(429, {
          status: "error",
          message,
          detail: { code: "PT429", message },
          refreshes_used: 10,
          refreshes_remaining: 0,
        });
      }
      throw error;
    }
    const refresh = started.r;
    const deadline = Date.now() + analysisWaitMs;
    for (;;) {
      const rows = await asCaller(claims, (tx) =>
        tx`select g.id,
                  (select s.id from public.health_stories s
                    where s.user_id = ${claims.sub}::uuid
                    order by s.generated_date desc, s.created_at desc limit 1) as story_id
             from public.analysis_generations g
            where g.week_of = ${refresh.week_of as string}::date and g.trigger = 'refresh'
              and g.status = 'succeeded' and g.created_at >= ${started.at}
            order by g.created_at desc limit 1`);
      if (rows.length > 0) {
        return json(200, {
          status: "success",
          story_id: rows[0].story_id,
          analysis_generated: true,
          generation_id: rows[0].id,
          week_of: refresh.week_of,
          refreshes_used: refresh.refreshes_used,
          refreshes_remaining: refresh.refreshes_remaining,
        });
      }
      if (Date.now() + pollMs > deadline) {
        return json(202, {
          status: "queued",
          analysis_generated: false,
          job_id: refresh.job_id,
          week_of: refresh.week_of,
          refreshes_used: refresh.refreshes_used,
          refreshes_remaining: refresh.refreshes_remaining,
        });
      }
      await sleep(pollMs);
    }
  }

  async function healthAnalysis(url: URL, userId: string, claims: Claims): Promise<Response> {
    ownUserId(userId, claims);
    const weekOf = url.searchParams.get("week_of") || null;
    if (weekOf !== null && !/^\d{4}-\d{2}-\d{2}$/.test(weekOf)) {
      throw new HttpError(422, "week_of must be a date as YYYY-MM-DD (a Monday)");
    }
    const timeZone = url.searchParams.get("time_zone") || null;
    const [row] = await asCaller(
      claims,
      (tx) => tx`select public.get_health_analysis(${weekOf}::text::date, ${timeZone}) as week`,
    );
    const week = row.week as Record<string, unknown>;
    return json(200, {
      insights: week.insights,
      predictions: week.predictions,
      shadow_patterns: week.shadow_patterns,
      strategies: week.strategic_moves,
      week_of: week.week_of,
      period: week.period,
      generated_at: week.generated_at,
      generation_id: week.generation_id,
    });
  }

  async function exportPdf(request: Request, claims: Claims, jwt: string, base: string): Promise<Response> {
    const body = await jsonBody(request);
    ownUserId(body.user_id, claims);
    const ids = storyIds(body);
    const includeAnalysis = optional(body, "include_analysis", "boolean", true);
    const includeNotes = optional(body, "include_notes", "boolean", true);
    const timeZone = optional<string | null>(body, "time_zone", "string", null);
    // The app treats a 202 as a failed export and asks again: the same stories and options
    // still waiting for the worker are that export, not another of the day's twenty.
    const [row] = await asCaller(claims, async (tx) => {
      const waiting = await tx`
        select e.id as export_id from public.export_history e
         where e.user_id = ${claims.sub}::uuid and e.export_type = 'pdf' and e.status = 'pending'
           and e.story_ids @> ${ids}::uuid[] and e.story_ids <@ ${ids}::uuid[]
           and e.metadata @> ${tx.json({ include_analysis: includeAnalysis, include_notes: includeNotes })}
           and e.created_at > now() - interval '1 hour'
         order by e.created_at desc limit 1`;
      if (waiting.length > 0) return waiting;
      return await tx`select public.request_pdf_export(${ids}::uuid[], ${includeAnalysis}, ${includeNotes},
                                                        ${timeZone}) as export_id`;
    });
    return await exportAnswer(claims, jwt, row.export_id as string, exportWaitMs, base);
  }

  async function shareWithDoctor(request: Request, claims: Claims): Promise<Response> {
    const body = await jsonBody(request);
    ownUserId(body.user_id, claims);
    const ids = storyIds(body);
    const recipient = optional<string | null>(body, "recipient_email", "string", null);
    const days = optional<number | null>(body, "expires_in_days", "number", null);
    if (days !== null && !Number.isInteger(days)) throw new HttpError(422, "expires_in_days must be a whole number");
    const timeZone = optional<string | null>(body, "time_zone", "string", null);
    const [row] = await asCaller(
      claims,
      (tx) =>
        tx`select public.create_doctor_share(${ids}::uuid[], ${recipient}, ${days ?? 30}::integer, ${timeZone})
                as share`,
    );
    const share = row.share as Record<string, unknown>;
    return json(200, {
      status: "success",
      share_link: share.share_link,
      expires_at: new Date(share.expires_at as string).toISOString(),
      share_id: share.share_id,
      expires_in_days: share.expires_in_days,
    });
  }

  /** The app's share dialog e-mails a share it made just before, by its link. */
  async function sendShareEmail(request: Request, claims: Claims): Promise<Response> {
    const body = await jsonBody(request);
    ownUserId(body.user_id, claims);
    const link = optional<string | null>(body, "share_link", "string", null);
    if (link === null) throw new HttpError(422, "share_link is required");
    const recipient = optional<string | null>(body, "recipient_email", "string", null);
    const timeZone = optional<string | null>(body, "time_zone", "string", null);
    const [row] = await asCaller(
      claims,
      (tx) => tx`select public.send_share_email(${link}, ${recipient}, ${timeZone}) as sent`,
    );
    const sent = row.sent as Record<string, unknown>;
    return json(200, {
      status: "success",
      message: "The e-mail is on its way",
      share_id: sent.share_id,
      notification_job_id: sent.notification_job_id,
    });
  }

  async function route(request: Request, url: URL): Promise<Response> {
    const path = url.pathname.replace(/^\/functions\/v1/, "").replace(/\/+$/, "");
    const base = url.origin + (url.pathname.startsWith("/functions/v1/") ? "/functions/v1" : "");
    const method = request.method;
    const routes: [RegExp, string, (m: RegExpMatchArray, c: Claims, jwt: string) => Promise<Response>][] = [
      [/^\/api\/generate-weekly-analysis$/, "POST", (_m, c) => generateWeeklyAnalysis(request, c)],
      [/^\/api\/health-analysis\/([^/]+)$/, "GET", (m, c) => healthAnalysis(url, pathPart(m[1]), c)],
      [/^\/api\/export-pdf$/, "POST", (_m, c, jwt) => exportPdf(request, c, jwt, base)],
      [/^\/api\/export-pdf\/([0-9a-fA-F-]{36})$/, "GET", (m, c, jwt) => exportAnswer(c, jwt, m[1], 0, base)],
      [/^\/api\/share-with-doctor$/, "POST", (_m, c) => shareWithDoctor(request, c)],
      [/^\/api\/send-share-email$/, "POST", (_m, c) => sendShareEmail(request, c)],
    ];
    for (const [pattern, allowed, run] of routes) {
      const match = path.match(pattern);
      if (!match) continue;
      if (method !== allowed) {
        return json(405, { status: "error", code: "method", message: `use ${allowed}` }, { Allow: allowed });
      }
      const jwt = bearer(request);
      let claims: Claims;
      try {
        claims = await config.verifyToken(jwt);
      } catch (error) {
        if (error instanceof JwtError) throw new HttpError(401, error.message);
        if (error instanceof KeysUnavailable) throw new HttpError(503, "tokens cannot be verified just now; try again");
        throw error;
      }
      try {
        return await run(match, claims, jwt);
      } catch (error) {
        if (error instanceof HttpError) throw error;
        return databaseError(error);
      }
    }
    return errorResponse(404, "not_found", "no such route");
  }

  return async (request: Request): Promise<Response> => {
    const started = Date.now();
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    let response: Response;
    let routeName = "unknown";
    try {
      const url = new URL(request.url);
      routeName = url.pathname.split("/").filter(Boolean).slice(-2).join("/").replace(/[0-9a-f-]{36}/gi, ":id");
      response = await route(request, url);
    } catch (error) {
      if (error instanceof HttpError) {
        response = errorResponse(error.status, error.status === 401 ? "PT401" : String(error.status), error.message);
      } else {
        response = errorResponse(500, "internal", "internal error");
        log.info("api request failed", {
          error: error instanceof Error ? error.name : "unknown",
          code: (error as { code?: string }).code ?? null,
        });
      }
    }
    log.info("api request", {
      method: request.method,
      route: routeName.slice(0, 60),
      status: response.status,
      ms: Date.now() - started,
    });
    return response;
  };
}
