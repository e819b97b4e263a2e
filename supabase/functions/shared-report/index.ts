// The doctor's share page (Supabase Edge Function `shared-report`, verify_jwt = false):
// GET /shared-report/<token>. All of the logic is in report.ts.
import { createSharedReportHandler, postgresReportSource } from "./report.ts";

const databaseUrl = Deno.env.get("SUPABASE_DB_URL");
if (!databaseUrl) throw new Error("SUPABASE_DB_URL is not set");

Deno.serve(createSharedReportHandler(postgresReportSource(databaseUrl)));
