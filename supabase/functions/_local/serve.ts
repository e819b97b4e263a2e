// Both Edge Functions on one local server, as Supabase routes them, for the demo and the
// browser test (Docker-free: `supabase functions serve` needs Docker):
//
//   SUPABASE_DB_URL=postgresql://... [SUPABASE_JWT_SECRET=...] [PORT=54321] \
//     deno run --allow-net --allow-env supabase/functions/_local/serve.ts
//
//   http://127.0.0.1:<PORT>/functions/v1/shared-report/<token>   the share page
//   http://127.0.0.1:<PORT>/functions/v1/api/...                  the guide's routes
//
// It listens on 127.0.0.1 only. Without SUPABASE_JWT_SECRET the API answers 503.
// Not deployed: Supabase skips folders whose names start with an underscore.

import postgres from "npm:postgres@3.4.7";
import { createApiHandler } from "../api/api.ts";
import { createSharedReportHandler, postgresReportSource } from "../shared-report/report.ts";

const databaseUrl = Deno.env.get("SUPABASE_DB_URL");
if (!databaseUrl) throw new Error("SUPABASE_DB_URL is not set");
const port = Number(Deno.env.get("PORT") ?? "54321");
const jwtSecret = Deno.env.get("SUPABASE_JWT_SECRET");

const sharedReport = createSharedReportHandler(postgresReportSource(databaseUrl));
const api = jwtSecret
  ? createApiHandler(postgres(databaseUrl, { max: 4, prepare: false, onnotice: () => {} }), {
    jwtSecret,
    supabaseUrl: Deno.env.get("SUPABASE_URL")?.replace(/\/+$/, ""),
    anonKey: Deno.env.get("SUPABASE_ANON_KEY"),
  })
  : () =>
    Promise.resolve(Response.json({ status: "error", message: "SUPABASE_JWT_SECRET is not set" }, { status: 503 }));

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
