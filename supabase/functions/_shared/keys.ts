// The platform's key settings, read alike by both functions.

/** The first key of a setting that holds named keys as JSON ({"default": "sb_..."}), such as
 * SUPABASE_PUBLISHABLE_KEYS and SUPABASE_SECRET_KEYS; an Error naming the setting when it is
 * not such JSON (never its value). */
export function firstNamedKey(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${name} is not a JSON object of named keys`);
  }
  const first = Object.values(parsed)[0];
  return typeof first === "string" && first ? first : undefined;
}
