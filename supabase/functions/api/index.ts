// The product guide's HTTP routes (Supabase Edge Function `api`, verify_jwt = true; the
// function verifies the JWT itself as well). All of the logic is in api.ts.
import postgres from "npm:postgres@3.4.7";
import { createApiHandler } from "./api.ts";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const sql = postgres(required("SUPABASE_DB_URL"), { max: 8, prepare: false, onnotice: () => {} });

Deno.serve(
  createApiHandler(sql, {
    jwtSecret: required("SUPABASE_JWT_SECRET"),
    supabaseUrl: Deno.env.get("SUPABASE_URL")?.replace(/\/+$/, ""),
    anonKey: Deno.env.get("SUPABASE_ANON_KEY"),
  }),
);
