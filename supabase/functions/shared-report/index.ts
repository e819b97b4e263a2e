// The doctor's share page (Supabase Edge Function `shared-report`, verify_jwt = false):
// GET /shared-report/<token> and /shared-report/<token>/pdf. All of the logic is in report.ts.
//
// Settings (the platform sets the SUPABASE_ ones):
//   SUPABASE_DB_URL              the database (the function reads as proxima_share_reader)
//   SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or the first of SUPABASE_SECRET_KEYS)
//                                Storage, for the shares' PDFs in the exports bucket
//   PROXIMA_EXPORT_BUCKET        the bucket (default health-exports)
//   SHARE_PAGE_FORMAT            html (default) or pdf: pdf where HTML is not served (the
//                                hosted platform without a custom domain)
import { firstNamedKey } from "../_shared/keys.ts";
import { createSharedReportHandler, type FileStore, postgresReportSource, storageFileStore } from "./report.ts";

const get = (name: string) => Deno.env.get(name)?.trim() || undefined;

const databaseUrl = get("SUPABASE_DB_URL");
if (!databaseUrl) throw new Error("SUPABASE_DB_URL is not set");
const url = get("SUPABASE_URL");
const key = get("SUPABASE_SERVICE_ROLE_KEY") || firstNamedKey("SUPABASE_SECRET_KEYS", get("SUPABASE_SECRET_KEYS"));
const files: FileStore | undefined = url && key
  ? storageFileStore({ url, key, bucket: get("PROXIMA_EXPORT_BUCKET") })
  : undefined;
const format = get("SHARE_PAGE_FORMAT") ?? "html";
if (format !== "html" && format !== "pdf") throw new Error(`SHARE_PAGE_FORMAT must be html or pdf, not ${format}`);

Deno.serve(createSharedReportHandler(postgresReportSource(databaseUrl), undefined, { format, files }));
