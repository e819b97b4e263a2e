// Verifying a Supabase Auth access token in the function itself, so the API is safe whatever
// the gateway did (verify_jwt is off: see supabase/config.toml).
//
// A project signs its users' tokens in one of two ways, and this verifies both:
//   * with signing keys (ES256 or RS256): checked against the project's JSON Web Key Set,
//     SUPABASE_JWKS as the platform gives every function, or read (and cached) from Auth's
//     /auth/v1/.well-known/jwks.json;
//   * with the legacy JWT secret (HS256): checked here when the secret is configured
//     (PROXIMA_JWT_SECRET; SUPABASE_JWT_SECRET where a local server sets it, since names
//     starting with SUPABASE_ cannot be set as secrets on the platform), otherwise by asking
//     Auth itself (GET /auth/v1/user with the token), which refuses a forged, expired or
//     signed-out token.
// The signatures are checked by `jose` (signature formats, key selection by kid, base64url).
// Then, whichever way: a numeric exp in the future; nbf and iat (when present) not in the
// future (30 s of clock skew allowed); sub a UUID; role "authenticated"; aud (when present)
// naming "authenticated". Anything else is a JwtError whose message says which rule failed,
// never the token. When the keys cannot be had (Auth unreachable), KeysUnavailable.

import * as jose from "npm:jose@6.2.18";
import { firstNamedKey } from "../_shared/keys.ts";

export interface Claims {
  sub: string;
  role: string;
  exp: number;
  [claim: string]: unknown;
}

export class JwtError extends Error {
  override name = "JwtError";
}

/** The keys could not be had just now (Auth unreachable): not the caller's fault. */
export class KeysUnavailable extends Error {
  override name = "KeysUnavailable";
}

export interface TokenKeys {
  /** The legacy HS256 secret, at least 32 characters. */
  secret?: string;
  /** The project's signing keys ({"keys": [...]} or [...]), as SUPABASE_JWKS holds them. */
  jwks?: unknown;
  /** Where Auth publishes them: read when `jwks` is not given, or has no key of a token's kid
   * (keys rotated since the function started). */
  jwksUrl?: string;
  /** Auth's base URL (SUPABASE_URL) and a public API key: verifies HS256 tokens without the secret. */
  auth?: { url: string; apiKey: string };
}

export type TokenVerifier = (token: string, now?: number) => Promise<Claims>;

const SKEW_SECONDS = 30;
const PART = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGNING_KEY_ALGORITHMS = ["ES256", "RS256"];
const AUTH_TIMEOUT_MS = 5_000;

/** The keys from a function's environment; an Error naming what to set when there are none. */
export function tokenKeysFromEnv(get: (name: string) => string | undefined): TokenKeys {
  const keys: TokenKeys = {};
  const secret = get("PROXIMA_JWT_SECRET") || get("SUPABASE_JWT_SECRET");
  if (secret) keys.secret = secret;
  const jwks = get("SUPABASE_JWKS");
  if (jwks) {
    try {
      keys.jwks = JSON.parse(jwks);
    } catch {
      throw new Error("SUPABASE_JWKS is not JSON");
    }
  }
  const url = get("SUPABASE_URL")?.replace(/\/+$/, "");
  if (url) {
    keys.jwksUrl = `${url}/auth/v1/.well-known/jwks.json`;
    const apiKey = get("SUPABASE_ANON_KEY") ||
      firstNamedKey("SUPABASE_PUBLISHABLE_KEYS", get("SUPABASE_PUBLISHABLE_KEYS"));
    if (apiKey) keys.auth = { url, apiKey };
  }
  return keys;
}

function keySet(jwks: unknown): ReturnType<typeof jose.createLocalJWKSet> | undefined {
  const keys = Array.isArray(jwks) ? jwks : (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error("the JSON Web Key Set has no list of keys");
  return keys.length > 0 ? jose.createLocalJWKSet({ keys }) : undefined;
}

/** A verifier for `keys`; an Error (at start, not per request) when they cannot verify anything. */
export function createTokenVerifier(keys: TokenKeys): TokenVerifier {
  if (keys.secret !== undefined && keys.secret.length < 32) {
    throw new Error("the JWT secret is shorter than 32 characters");
  }
  const secret = keys.secret ? new TextEncoder().encode(keys.secret) : undefined;
  const local = keys.jwks !== undefined ? keySet(keys.jwks) : undefined;
  const remote = keys.jwksUrl ? jose.createRemoteJWKSet(new URL(keys.jwksUrl)) : undefined;
  // The key set the platform gave at start first; Auth's own for a key it does not hold.
  const signingKeys: jose.JWTVerifyGetKey | undefined = local && remote
    ? async (header, token) => {
      try {
        return await local(header, token);
      } catch (error) {
        if (error instanceof jose.errors.JWKSNoMatchingKey) return await remote(header, token);
        throw error;
      }
    }
    : local ?? remote;
  if (!secret && !signingKeys && !keys.auth) {
    throw new Error(
      "no way to verify tokens: set SUPABASE_JWKS or SUPABASE_URL (the platform sets both), " +
        "or PROXIMA_JWT_SECRET (the project's legacy JWT secret)",
    );
  }

  async function byAuth(token: string): Promise<void> {
    const auth = keys.auth!;
    let response: Response;
    try {
      response = await fetch(`${auth.url}/auth/v1/user`, {
        headers: { Authorization: `Bearer ${token}`, apikey: auth.apiKey },
        signal: AbortSignal.timeout(AUTH_TIMEOUT_MS),
      });
    } catch {
      throw new KeysUnavailable("Auth could not be asked to verify the token");
    }
    await response.body?.cancel();
    if (response.status === 401 || response.status === 403) throw new JwtError("Auth does not accept the token");
    if (!response.ok) throw new KeysUnavailable(`Auth answered HTTP ${response.status} when asked to verify the token`);
  }

  return async (token: string, now: number = Date.now() / 1000): Promise<Claims> => {
    const parts = token.split(".");
    if (parts.length !== 3 || !parts.every((p) => PART.test(p))) throw new JwtError("the token is malformed");
    let alg: unknown;
    try {
      alg = jose.decodeProtectedHeader(token).alg;
    } catch {
      throw new JwtError("the token is malformed");
    }
    const options = { currentDate: new Date(now * 1000), clockTolerance: SKEW_SECONDS };
    let claims: Record<string, unknown>;
    try {
      if (alg === "HS256" && secret) {
        claims = (await jose.jwtVerify(token, secret, { ...options, algorithms: ["HS256"] })).payload;
      } else if (alg === "HS256" && keys.auth) {
        claims = jose.decodeJwt(token);
        checkClaims(claims, now); // nothing to ask Auth about a token that is expired or not a person's
        await byAuth(token);
      } else if (typeof alg === "string" && SIGNING_KEY_ALGORITHMS.includes(alg) && signingKeys) {
        claims = (await jose.jwtVerify(token, signingKeys, { ...options, algorithms: SIGNING_KEY_ALGORITHMS })).payload;
      } else {
        throw new JwtError(`the token is signed with ${describe(alg)}, which this project's keys cannot verify`);
      }
    } catch (error) {
      throw translate(error);
    }
    return checkClaims(claims, now);
  };
}

function describe(alg: unknown): string {
  return typeof alg === "string" && /^[A-Za-z0-9]{1,16}$/.test(alg) ? alg : "an unknown algorithm";
}

function translate(error: unknown): Error {
  if (error instanceof JwtError || error instanceof KeysUnavailable) return error;
  if (!(error instanceof jose.errors.JOSEError)) {
    // jose's fetch of the key set failed (network, not JSON).
    return new KeysUnavailable("the project's signing keys could not be read");
  }
  switch (error.code) {
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new JwtError("the token's signature does not match");
    case "ERR_JWT_EXPIRED":
      return new JwtError("the token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (error as jose.errors.JWTClaimValidationFailed).claim;
      return new JwtError(`the token's ${claim === "nbf" || claim === "iat" ? claim : "claims"} are not valid now`);
    }
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return new JwtError("the token is signed with a key this project does not publish");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return new JwtError("the token is signed with an algorithm this project does not use");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return new KeysUnavailable("the project's signing keys could not be read");
    default:
      return new JwtError("the token is not valid");
  }
}

function checkClaims(claims: Record<string, unknown>, now: number): Claims {
  if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) throw new JwtError("the token has no expiry");
  if (claims.exp <= now) throw new JwtError("the token has expired");
  for (const name of ["nbf", "iat"]) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "number" || value > now + SKEW_SECONDS)) {
      throw new JwtError(`the token's ${name} is in the future`);
    }
  }
  if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) throw new JwtError("the token names no user");
  if (claims.role !== "authenticated") throw new JwtError("the token is not a signed-in person's");
  const aud = claims.aud;
  if (aud !== undefined && aud !== "authenticated" && !(Array.isArray(aud) && aud.includes("authenticated"))) {
    throw new JwtError("the token is for another audience");
  }
  return claims as Claims;
}
