// Verifying a Supabase Auth access token (HS256, the project's JWT secret) in the function
// itself, so the API is safe even where the gateway does not verify (verify_jwt = false,
// or a local server).
//
// Accepted: three base64url parts; header alg exactly "HS256"; a signature that matches
// (compared in constant time); claims with a numeric exp in the future, nbf and iat (when
// present) not in the future (30 s of clock skew allowed), sub a UUID, role
// "authenticated", and aud (when present) naming "authenticated". Anything else is a
// JwtError whose message says which rule failed, never the token.

import { createHmac, timingSafeEqual } from "node:crypto";

export interface Claims {
  sub: string;
  role: string;
  exp: number;
  [claim: string]: unknown;
}

export class JwtError extends Error {
  override name = "JwtError";
}

const SKEW_SECONDS = 30;
const PART = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodePart(part: string): Uint8Array {
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (part.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(decodePart(part)));
  } catch {
    throw new JwtError(`the token's ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtError(`the token's ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The verified claims of `token`, or a JwtError. */
export function verifyJwt(token: string, secret: string, now: number = Date.now() / 1000): Claims {
  if (secret.length < 32) throw new JwtError("the JWT secret is shorter than 32 characters");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) throw new JwtError("the token is malformed");
  const [headerPart, payloadPart, signaturePart] = parts;
  const header = jsonObject(headerPart, "header");
  if (header.alg !== "HS256") throw new JwtError("the token is not signed with HS256");
  const expected = createHmac("sha256", secret).update(`${headerPart}.${payloadPart}`).digest();
  const given = decodePart(signaturePart);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new JwtError("the token's signature does not match");
  }
  const claims = jsonObject(payloadPart, "claims");
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
