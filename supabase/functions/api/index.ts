// The product guide's HTTP routes (Supabase Edge Function `api`). The function verifies
// every caller's token itself (jwt.ts); all of the logic is in api.ts.
import postgres from "npm:postgres@3.4.7";
import { createApiHandler } from "./api.ts";
import { createTokenVerifier, tokenKeysFromEnv } from "./jwt.ts";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const sql = postgres(required("SUPABASE_DB_URL"), { max: 8, prepare: false, onnotice: () => {} });
const get = (name: string) => Deno.env.get(name);

Deno.serve(
  createApiHandler(sql, {
    verifyToken: createTokenVerifier(tokenKeysFromEnv(get)),
    supabaseUrl: get("SUPABASE_URL")?.replace(/\/+$/, ""),
    anonKey: get("SUPABASE_ANON_KEY"),
  }),
);
