// Both Edge Functions on one local server, as Supabase routes them, for the demo and the
// browser test (Docker-free: `supabase functions serve` needs Docker):
//
//   SUPABASE_DB_URL=postgresql://... [SUPABASE_JWT_SECRET=... | SUPABASE_JWKS=...] [PORT=54321] \
//     [PROXIMA_EXPORT_DIR=exports] [SHARE_PAGE_FORMAT=pdf] \
//     deno run --allow-net --allow-env [--allow-read=exports] supabase/functions/_local/serve.ts
//
//   http://127.0.0.1:<PORT>/functions/v1/shared-report/<token>   the share page
//   http://127.0.0.1:<PORT>/functions/v1/api/...                  the guide's routes
//
// The shares' PDFs are read from PROXIMA_EXPORT_DIR (the worker's local exports folder)
// when it is set. It listens on 127.0.0.1 only. With no way to verify tokens (api/jwt.ts: a secret, a key
// set, or SUPABASE_URL with an API key) the API answers 503.
// Not deployed: Supabase skips folders whose names start with an underscore.

import postgres from "npm:postgres@3.4.7";
import { createApiHandler } from "../api/api.ts";
import { createTokenVerifier, tokenKeysFromEnv } from "../api/jwt.ts";
import { createSharedReportHandler, folderFileStore, postgresReportSource } from "../shared-report/report.ts";

const databaseUrl = Deno.env.get("SUPABASE_DB_URL");
if (!databaseUrl) throw new Error("SUPABASE_DB_URL is not set");
const port = Number(Deno.env.get("PORT") ?? "54321");
const get = (name: string) => Deno.env.get(name);

function apiHandler(): (request: Request) => Promise<Response> {
  let verifyToken;
  try {
    verifyToken = createTokenVerifier(tokenKeysFromEnv(get));
  } catch (error) {
    const message = error instanceof Error ? error.message : "tokens cannot be verified";
    return () => Promise.resolve(Response.json({ status: "error", message }, { status: 503 }));
  }
  return createApiHandler(postgres(databaseUrl!, { max: 4, prepare: false, onnotice: () => {} }), {
    verifyToken,
    supabaseUrl: get("SUPABASE_URL")?.replace(/\/+$/, ""),
    anonKey: get("SUPABASE_ANON_KEY"),
  });
}

const exportDir = get("PROXIMA_EXPORT_DIR");
const sharedReport = createSharedReportHandler(postgresReportSource(databaseUrl), undefined, {
  format: get("SHARE_PAGE_FORMAT") === "pdf" ? "pdf" : "html",
  files: exportDir ? folderFileStore(exportDir) : undefined,
});
const api = apiHandler();

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`serving http://127.0.0.1:${port}/functions/v1/{shared-report,api}`),
}, (request) => {
  const path = new URL(request.url).pathname;
  if (path.startsWith("/functions/v1/shared-report/")) return sharedReport(request);
  if (path.startsWith("/functions/v1/api/")) return api(request);
  return new Response("not found\n", { status: 404, headers: { "Content-Type": "text/plain" } });
});
