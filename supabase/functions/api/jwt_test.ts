// The token verifier (jwt.ts) with each way a project signs its users' tokens: signing keys
// (ES256, RS256) from SUPABASE_JWKS or from Auth's key set on 127.0.0.1, the legacy secret
// (HS256) here, and HS256 without the secret, asked of an Auth stand-in on 127.0.0.1.
import assert from "node:assert/strict";
import * as jose from "npm:jose@6.2.18";
import { dbTest, JWT_SECRET, signJwt } from "../_testing/fixtures.ts";
import { createTokenVerifier, JwtError, KeysUnavailable, tokenKeysFromEnv } from "./jwt.ts";

const NOW = 1_900_000_000;
const person = crypto.randomUUID();
const claims = { sub: person, role: "authenticated", aud: "authenticated", iat: NOW - 10, exp: NOW + 600 };

async function keyPair(alg: "ES256" | "RS256", kid: string) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: "sig" };
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new jose.SignJWT(payload).setProtectedHeader({ alg, kid, typ: "JWT", ...header }).sign(privateKey);
  return { jwk, sign };
}

const es = await keyPair("ES256", "ec-1");
const rs = await keyPair("RS256", "rsa-1");
const stranger = await keyPair("ES256", "ec-1"); // the same kid, another key

// Auth on 127.0.0.1: its key set, and /auth/v1/user accepting exactly one HS256 token.
let accepted = "";
const asked: string[] = [];
const auth = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/auth/v1/.well-known/jwks.json") return Response.json({ keys: [rs.jwk] });
  if (url.pathname === "/auth/v1/user") {
    asked.push(request.headers.get("apikey") ?? "");
    const ok = request.headers.get("authorization") === `Bearer ${accepted}`;
    return Response.json(ok ? { id: person } : { msg: "invalid JWT" }, { status: ok ? 200 : 401 });
  }
  return new Response("not found", { status: 404 });
});
const authUrl = `http://127.0.0.1:${auth.addr.port}`;

async function refused(
  verify: ReturnType<typeof createTokenVerifier>,
  token: string,
  pattern: RegExp,
  now: number = NOW,
) {
  await assert.rejects(
    () => verify(token, now),
    (error: Error) => error instanceof JwtError && pattern.test(error.message),
  );
}

dbTest("ES256 and RS256 tokens are verified against the project's key set", async () => {
  const verify = createTokenVerifier({ jwks: { keys: [es.jwk, rs.jwk] } });
  assert.equal((await verify(await es.sign(claims), NOW)).sub, person);
  assert.equal((await verify(await rs.sign(claims), NOW)).sub, person);
  await refused(verify, await stranger.sign(claims), /signature does not match/);
  await refused(verify, await es.sign(claims, { kid: "elsewhere" }), /key this project does not publish/);
  await refused(verify, await es.sign({ ...claims, exp: NOW - 1 }), /expired/);
  await refused(verify, await es.sign({ ...claims, nbf: NOW + 600 }), /nbf/);
  await refused(verify, await es.sign({ ...claims, role: "service_role" }), /not a signed-in person's/);
  await refused(verify, await es.sign({ ...claims, sub: "me" }), /names no user/);
  await refused(verify, await es.sign({ ...claims, aud: "elsewhere" }), /another audience/);
  const { exp: _exp, ...noExpiry } = claims;
  await refused(verify, await es.sign(noExpiry), /no expiry/);
  // With signing keys only, an HS256 token (even one signed with the right secret) is not accepted.
  await refused(verify, signJwt(claims), /HS256, which this project's keys cannot verify/);
  // A list of keys alone ([...]) is a key set too, as SUPABASE_JWKS may hold it.
  assert.equal((await createTokenVerifier({ jwks: [es.jwk] })(await es.sign(claims), NOW)).sub, person);
});

dbTest("the legacy secret verifies HS256 here; alg none and malformed tokens are refused, never a 500", async () => {
  const verify = createTokenVerifier({ secret: JWT_SECRET });
  assert.equal((await verify(signJwt(claims), NOW)).sub, person);
  const token = signJwt(claims);
  const tampered = token.slice(0, -2) + (token.endsWith("AA") ? "AB" : "AA");
  await refused(verify, tampered, /signature does not match/);
  await refused(verify, signJwt(claims, { secret: "another-secret-that-is-long-enough-to-use" }), /signature/);
  await refused(verify, signJwt(claims, { header: { alg: "none", typ: "JWT" } }), /none, which/);
  await refused(verify, await es.sign(claims), /ES256, which/);
  // Parts that are not base64url of JSON, a signature of a length base64 cannot have (4k+1).
  const [header, payload] = token.split(".");
  for (const bad of ["not.a.jwt", "a.b", `${header}.${payload}.x`, `${header}.${payload}.abcde`, "e30.e30.e30"]) {
    await assert.rejects(() => verify(bad, NOW), JwtError, bad);
  }
  assert.throws(() => createTokenVerifier({ secret: "short" }), /shorter than 32/);
  assert.throws(() => createTokenVerifier({}), /no way to verify tokens/);
});

dbTest("Auth's own key set is read from SUPABASE_URL, and HS256 without the secret is asked of Auth", async () => {
  const keys = tokenKeysFromEnv((name) => ({ SUPABASE_URL: `${authUrl}/`, SUPABASE_ANON_KEY: "anon-key" })[name]);
  assert.deepEqual(keys, {
    jwksUrl: `${authUrl}/auth/v1/.well-known/jwks.json`,
    auth: { url: authUrl, apiKey: "anon-key" },
  });
  const verify = createTokenVerifier(keys);
  const now = Date.now() / 1000;
  const live = { ...claims, iat: Math.floor(now) - 5, exp: Math.floor(now) + 600 };
  assert.equal((await verify(await rs.sign(live))).sub, person);
  accepted = signJwt(live);
  asked.length = 0;
  assert.equal((await verify(accepted)).sub, person);
  assert.deepEqual(asked, ["anon-key"]);
  await refused(verify, signJwt({ ...live, iat: live.iat + 1 }), /Auth does not accept/, now);
  // Nothing is asked about a token that fails on its own claims.
  asked.length = 0;
  await refused(verify, signJwt({ ...live, exp: Math.floor(now) - 1 }), /expired/, now);
  await refused(verify, signJwt({ ...live, role: "anon" }), /not a signed-in person's/, now);
  assert.deepEqual(asked, []);
});

dbTest("a key rotated in after start (not in SUPABASE_JWKS) is found in Auth's key set", async () => {
  const verify = createTokenVerifier({ jwks: { keys: [es.jwk] }, jwksUrl: `${authUrl}/auth/v1/.well-known/jwks.json` });
  assert.equal((await verify(await es.sign(claims), NOW)).sub, person);
  assert.equal((await verify(await rs.sign(claims), NOW)).sub, person); // rsa-1 is only in Auth's set
  await refused(verify, await es.sign(claims, { kid: "nowhere" }), /key this project does not publish/);
  await refused(verify, await stranger.sign(claims), /signature does not match/);
});

dbTest("when Auth cannot be reached the keys are unavailable (a 503), not the token refused", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const verify = createTokenVerifier({
    jwksUrl: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`,
    auth: { url: `http://127.0.0.1:${port}`, apiKey: "anon-key" },
  });
  const now = Math.floor(Date.now() / 1000);
  const live = { ...claims, iat: now, exp: now + 600 };
  await assert.rejects(() => verify(signJwt(live)), KeysUnavailable);
  const signed = await rs.sign(live);
  await assert.rejects(() => verify(signed), KeysUnavailable);
});

dbTest("tokenKeysFromEnv reads what the platform and a local server set", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.deepEqual(tokenKeysFromEnv(env({ PROXIMA_JWT_SECRET: JWT_SECRET, SUPABASE_JWT_SECRET: "x" })), {
    secret: JWT_SECRET,
  });
  assert.deepEqual(tokenKeysFromEnv(env({ SUPABASE_JWT_SECRET: JWT_SECRET })), { secret: JWT_SECRET });
  const jwks = JSON.stringify({ keys: [es.jwk] });
  const publishable = JSON.stringify({ default: "sb_publishable_x" });
  assert.deepEqual(
    tokenKeysFromEnv(
      env({ SUPABASE_JWKS: jwks, SUPABASE_URL: "https://p.example", SUPABASE_PUBLISHABLE_KEYS: publishable }),
    ),
    {
      jwks: { keys: [es.jwk] },
      jwksUrl: "https://p.example/auth/v1/.well-known/jwks.json",
      auth: { url: "https://p.example", apiKey: "sb_publishable_x" },
    },
  );
  assert.throws(() => tokenKeysFromEnv(env({ SUPABASE_JWKS: "{not json" })), /SUPABASE_JWKS is not JSON/);
  for (const bad of ["{not json", '["sb_publishable_x"]']) {
    const settings = env({ SUPABASE_URL: "https://p.example", SUPABASE_PUBLISHABLE_KEYS: bad });
    assert.throws(() => tokenKeysFromEnv(settings), /^Error: SUPABASE_PUBLISHABLE_KEYS is not/, bad);
  }
  assert.throws(() => createTokenVerifier({ jwks: { nothing: true } }), /no list of keys/);
  // An empty key set (a project on its legacy secret) with no other way: nothing can be verified.
  assert.throws(() => createTokenVerifier({ jwks: { keys: [] } }), /no way to verify tokens/);
  return Promise.resolve();
});
