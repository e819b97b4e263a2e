// The guide's routes against the test harness's real Postgres (DATABASE_URL): every route
// and status, the caller from the verified JWT only, errors as PostgREST maps them.
import assert from "node:assert/strict";
import { addPerson, addStory, dbTest, JWT_SECRET, signJwt, sql, userJwt } from "../_testing/fixtures.ts";
import { createApiHandler, statusOfSqlstate } from "./api.ts";
import { createTokenVerifier } from "./jwt.ts";

// A Storage stand-in on 127.0.0.1 that signs downloads, recording who asked.
const signers: string[] = [];
const storage = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
  const url = new URL(request.url);
  signers.push(request.headers.get("authorization") ?? "");
  const prefix = "/storage/v1/object/sign/";
  if (request.method !== "POST" || !url.pathname.startsWith(prefix) || request.headers.get("apikey") !== "anon-key") {
    return new Response("{}", { status: 400 });
  }
  const body = await request.json();
  return Response.json({ signedURL: `/object/sign/${url.pathname.slice(prefix.length)}?token=t&e=${body.expiresIn}` });
});
const storageUrl = `http://127.0.0.1:${storage.addr.port}`;

const logged: Record<string, unknown>[] = [];
const handler = createApiHandler(
  sql,
  {
    verifyToken: createTokenVerifier({ secret: JWT_SECRET }),
    supabaseUrl: storageUrl,
    anonKey: "anon-key",
    exportWaitMs: 300,
    analysisWaitMs: 300,
    pollMs: 40,
  },
  { info: (_m, fields) => logged.push(fields) },
);

async function call(
  method: string,
  path: string,
  { jwt, body }: { jwt?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (jwt) headers.authorization = `Bearer ${jwt}`;
  const response = await handler(
    new Request(`http://127.0.0.1/functions/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function person() {
  const id = await addPerson("Maya Lind");
  const story = await addStory(id, "Knee week", "The knee ached.");
  return { id, story, jwt: userJwt(id) };
}

// -- the caller ---------------------------------------------------------------------------------

dbTest("forged, expired, unsigned and foreign tokens are refused with 401", async () => {
  const { id, story } = await person();
  const now = Math.floor(Date.now() / 1000);
  const valid = { sub: id, role: "authenticated", aud: "authenticated", exp: now + 600 };
  const refused = {
    "no token": undefined,
    "garbage": "not.a.jwt",
    "wrong secret": signJwt(valid, { secret: "another-secret-that-is-long-enough-to-use" }),
    "expired": signJwt({ ...valid, exp: now - 1 }),
    "no expiry": signJwt({ sub: id, role: "authenticated" }),
    "alg none": signJwt(valid, { header: { alg: "none", typ: "JWT" } }),
    "anon key": signJwt({ role: "anon", iss: "supabase", exp: now + 600 }),
    "service role": signJwt({ ...valid, role: "service_role" }),
    "other audience": signJwt({ ...valid, aud: "elsewhere" }),
    "not yet valid": signJwt({ ...valid, nbf: now + 600 }),
  };
  for (const [what, jwt] of Object.entries(refused)) {
    const answer = await call("POST", "/api/share-with-doctor", { jwt, body: { story_ids: [story] } });
    assert.equal(answer.status, 401, what);
    assert.equal(answer.body.status, "error");
    assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer/);
  }
  const [row] = await sql`select count(*)::int as n from public.export_history where user_id = ${id}`;
  assert.equal(row.n, 0);
});

dbTest("bad tokens, bad paths and oversized bodies are 4xx answers, never a 500", async () => {
  const { id, story, jwt } = await person();
  const [header, payload] = jwt.split(".");
  // A signature of a length base64 cannot have (4k+1 characters).
  const answer = await call("POST", "/api/share-with-doctor", { jwt: `${header}.${payload}.abcde`, body: {} });
  assert.equal(answer.status, 401);
  const badPath = await call("GET", "/api/health-analysis/%E0%A4%A", { jwt });
  assert.equal(badPath.status, 404);
  // Over 64 KiB: refused by its declared length, and (streamed, no length) while it is read.
  const large = JSON.stringify({ story_ids: [story], pad: "x".repeat(70_000) });
  assert.equal((await call("POST", "/api/share-with-doctor", { jwt, body: large })).status, 413);
  const chunks = [new TextEncoder().encode(large.slice(0, 40_000)), new TextEncoder().encode(large.slice(40_000))];
  const streamed = await handler(
    new Request("http://127.0.0.1/functions/v1/api/share-with-doctor", {
      method: "POST",
      headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
      body: ReadableStream.from(chunks),
    }),
  );
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();
  const notUtf8 = await handler(
    new Request("http://127.0.0.1/functions/v1/api/share-with-doctor", {
      method: "POST",
      headers: { authorization: `Bearer ${jwt}` },
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    }),
  );
  assert.equal(notUtf8.status, 422);
  await notUtf8.body?.cancel();
  const [row] = await sql`select count(*)::int as n from public.export_history where user_id = ${id}`;
  assert.equal(row.n, 0);
});

dbTest("errors carry detail.message too, where the app reads them", async () => {
  const me = await person();
  const other = await person();
  const answer = await call("GET", `/api/health-analysis/${other.id}`, { jwt: me.jwt });
  assert.equal(answer.status, 403);
  assert.deepEqual(answer.body.detail, { code: answer.body.code, message: answer.body.message });
});

dbTest("a user_id that is not the caller's is a 403, in a path or a body", async () => {
  const me = await person();
  const other = await person();
  const analysis = await call("GET", `/api/health-analysis/${other.id}`, { jwt: me.jwt });
  assert.equal(analysis.status, 403);
  for (const path of ["/api/share-with-doctor", "/api/export-pdf", "/api/generate-weekly-analysis"]) {
    const answer = await call("POST", path, { jwt: me.jwt, body: { user_id: other.id, story_ids: [me.story] } });
    assert.equal(answer.status, 403, path);
    assert.equal(answer.body.message, "user_id is not the signed-in person's id");
  }
  const [row] = await sql`select (select count(*) from public.export_history where user_id = ${me.id})::int
                                 + (select count(*) from public.jobs where user_id = ${me.id})::int as n`;
  assert.equal(row.n, 0);
});

// -- the routes ----------------------------------------------------------------------------------

dbTest("GET /api/health-analysis/<own id> answers the guide's shape", async () => {
  const me = await person();
  const answer = await call("GET", `/api/health-analysis/${me.id}?week_of=2026-11-23`, { jwt: me.jwt });
  assert.equal(answer.status, 200);
  assert.deepEqual(Object.keys(answer.body).sort(), [
    "generated_at",
    "generation_id",
    "insights",
    "period",
    "predictions",
    "shadow_patterns",
    "strategies",
    "week_of",
  ]);
  assert.equal(answer.body.week_of, "2026-11-23");
  assert.deepEqual(answer.body.strategies, []);
  const tuesday = await call("GET", `/api/health-analysis/${me.id}?week_of=2026-11-24`, { jwt: me.jwt });
  assert.equal(tuesday.status, 422);
  assert.match(String(tuesday.body.message), /week_of must be a Monday/);
  for (const bad of ["soon", "2026-02-31"]) {
    const garbage = await call("GET", `/api/health-analysis/${me.id}?week_of=${bad}`, { jwt: me.jwt });
    assert.equal(garbage.status, 422, bad);
  }
});

dbTest("POST /api/share-with-doctor makes a share and maps refusals", async () => {
  const me = await person();
  const answer = await call("POST", "/api/share-with-doctor", {
    jwt: me.jwt,
    body: { user_id: me.id, story_ids: [me.story], recipient_email: "dr@clinic.example.org", expires_in_days: 7 },
  });
  assert.equal(answer.status, 200);
  assert.equal(answer.body.status, "success");
  assert.match(
    String(answer.body.share_link),
    /^http:\/\/127\.0\.0\.1:54321\/functions\/v1\/shared-report\/[\w-]{43}$/,
  );
  assert.match(String(answer.body.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const other = await person();
  const refusals: [unknown, number][] = [
    [{ story_ids: [other.story] }, 403],
    [{ story_ids: [] }, 422],
    [{ story_ids: ["not-a-uuid"] }, 422],
    [{ story_ids: [me.story], expires_in_days: 91 }, 422],
    [{ story_ids: [me.story], expires_in_days: 1.5 }, 422],
    [{ story_ids: [me.story], recipient_email: "nobody" }, 422],
    [{ story_ids: "all" }, 422],
    ["[1, 2]", 422],
    ["{not json", 422],
  ];
  for (const [body, status] of refusals) {
    const refused = await call("POST", "/api/share-with-doctor", { jwt: me.jwt, body });
    assert.equal(refused.status, status, JSON.stringify(body));
    assert.equal(refused.body.status, "error");
  }
});

dbTest("POST /api/send-share-email e-mails a share made before, by its link, as the app's dialog does", async () => {
  const me = await person();
  const made = await call("POST", "/api/share-with-doctor", { jwt: me.jwt, body: { story_ids: [me.story] } });
  const link = String(made.body.share_link);
  const sent = await call("POST", "/api/send-share-email", {
    jwt: me.jwt,
    body: { share_link: link, recipient_email: "dr@clinic.example.org" },
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.body.status, "success");
  assert.equal(sent.body.share_id, made.body.share_id);
  const jobs = await sql`select id, kind, payload from public.jobs
                         where user_id = ${me.id} and kind = 'share_notification'`;
  assert.deepEqual(jobs.map((j) => [String(j.id), j.kind]), [[
    String(sent.body.notification_job_id),
    "share_notification",
  ]]);
  const [share] = await sql`select recipient_email from public.export_history where id = ${String(made.body.share_id)}`;
  assert.equal(share.recipient_email, "dr@clinic.example.org");

  const other = await person();
  const refusals: [string, unknown, number][] = [
    ["another person's link", { share_link: link, recipient_email: "dr@clinic.example.org" }, 404],
  ];
  for (const [what, body, status] of refusals) {
    const answer = await call("POST", "/api/send-share-email", { jwt: other.jwt, body });
    assert.equal(answer.status, status, what);
  }
  const mine: [string, unknown, number][] = [
    ["no link", { recipient_email: "dr@clinic.example.org" }, 422],
    ["a link of no share", { share_link: link.slice(0, -4) + "AAAA", recipient_email: "dr@clinic.example.org" }, 404],
    ["not a link", { share_link: "hello", recipient_email: "dr@clinic.example.org" }, 404],
    ["no address", { share_link: link }, 422],
    ["not an address", { share_link: link, recipient_email: "nobody" }, 422],
    ["a number for the link", { share_link: 7, recipient_email: "dr@clinic.example.org" }, 422],
    ["someone else's user_id", { user_id: other.id, share_link: link, recipient_email: "dr@clinic.example.org" }, 403],
  ];
  for (const [what, body, status] of mine) {
    const answer = await call("POST", "/api/send-share-email", { jwt: me.jwt, body });
    assert.equal(answer.status, status, what);
  }
  const [count] = await sql`select count(*)::int as n from public.jobs
                            where user_id in (${me.id}, ${other.id}) and kind = 'share_notification'`;
  assert.equal(count.n, 1);
});

dbTest("the twenty-first share of the day is a 429", async () => {
  const me = await person();
  for (let i = 0; i < 20; i++) {
    assert.equal(
      (await call("POST", "/api/share-with-doctor", { jwt: me.jwt, body: { story_ids: [me.story] } })).status,
      200,
    );
  }
  const limited = await call("POST", "/api/share-with-doctor", { jwt: me.jwt, body: { story_ids: [me.story] } });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, "PT429");
});

dbTest("POST /api/export-pdf answers 202 with the export id while the worker is busy", async () => {
  const me = await person();
  const answer = await call("POST", "/api/export-pdf", {
    jwt: me.jwt,
    body: { user_id: me.id, story_ids: [me.story] },
  });
  assert.equal(answer.status, 202);
  assert.equal(answer.body.status, "pending");
  const exportId = String(answer.body.export_id);
  assert.equal(answer.body.poll, `http://127.0.0.1/functions/v1/api/export-pdf/${exportId}`);
  const polled = await call("GET", `/api/export-pdf/${exportId}`, { jwt: me.jwt });
  assert.equal(polled.status, 202);
  // Asked again (the app reads a 202 as a failure): the same export, not another of the day's.
  const again = await call("POST", "/api/export-pdf", { jwt: me.jwt, body: { story_ids: [me.story, me.story] } });
  assert.equal(again.body.export_id, exportId);
  const otherOptions = await call("POST", "/api/export-pdf", {
    jwt: me.jwt,
    body: { story_ids: [me.story], include_notes: false },
  });
  assert.notEqual(otherOptions.body.export_id, exportId);
  const [used] = await sql`select coalesce(sum(used), 0)::int as n from public.daily_usage
                            where user_id = ${me.id} and action = 'pdf_export'`;
  assert.equal(used.n, 2);
  const other = await person();
  const foreign = await call("GET", `/api/export-pdf/${exportId}`, { jwt: other.jwt });
  assert.equal(foreign.status, 404);
});

dbTest("POST /api/export-pdf returns a one-hour signed URL, signed as the caller, once the file is ready", async () => {
  const me = await person();
  const ready = (async () => {
    // The worker's part: mark the export ready while the request waits.
    for (let i = 0; i < 50; i++) {
      const rows =
        await sql`update public.export_history set status = 'ready', storage_path = user_id || '/' || id || '.pdf'
                             where user_id = ${me.id} and status = 'pending' returning id`;
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const answer = await call("POST", "/api/export-pdf", {
    jwt: me.jwt,
    body: { user_id: me.id, story_ids: [me.story], include_analysis: false },
  });
  await ready;
  assert.equal(answer.status, 200);
  assert.equal(answer.body.status, "success");
  assert.equal(answer.body.expires_in, 3600);
  const exportId = String(answer.body.export_id);
  assert.equal(
    answer.body.pdf_url,
    `${storageUrl}/storage/v1/object/sign/health-exports/${me.id}/${exportId}.pdf?token=t&e=3600`,
  );
  assert.equal(signers.at(-1), `Bearer ${me.jwt}`);
  const [job] = await sql`select priority from public.jobs where payload ->> 'export_id' = ${exportId}`;
  assert.equal(job.priority, -10);
});

dbTest("a failed export is reported with its error", async () => {
  const me = await person();
  const first = await call("POST", "/api/export-pdf", { jwt: me.jwt, body: { story_ids: [me.story] } });
  await sql`update public.export_history set status = 'failed', error = 'story gone' where id = ${
    String(first.body.export_id)
  }`;
  const polled = await call("GET", `/api/export-pdf/${String(first.body.export_id)}`, { jwt: me.jwt });
  assert.equal(polled.status, 500);
  assert.equal(polled.body.error, "story gone");
});

dbTest("POST /api/generate-weekly-analysis waits for the refresh, or answers 202", async () => {
  const me = await person();
  const queued = await call("POST", "/api/generate-weekly-analysis", { jwt: me.jwt, body: { user_id: me.id } });
  assert.equal(queued.status, 202);
  assert.equal(queued.body.analysis_generated, false);
  assert.equal(queued.body.refreshes_used, 1);
  assert.equal(queued.body.refreshes_remaining, 9);

  const done = (async () => {
    await new Promise((r) => setTimeout(r, 100));
    await sql`insert into public.analysis_generations (user_id, week_of, status, trigger, model)
              select ${me.id}, (payload ->> 'week_of')::date, 'succeeded', 'refresh', 'local'
                from public.jobs where user_id = ${me.id} order by id desc limit 1`;
  })();
  const generated = await call("POST", "/api/generate-weekly-analysis", { jwt: me.jwt, body: {} });
  await done;
  assert.equal(generated.status, 200);
  assert.deepEqual(
    [generated.body.status, generated.body.analysis_generated, generated.body.story_id, generated.body.refreshes_used],
    ["success", true, me.story, 2],
  );
});

dbTest("the eleventh refresh of the week answers the guide's limit message with 429", async () => {
  const me = await person();
  await sql`insert into public.analysis_refreshes (user_id, week_of, refresh_count)
            values (${me.id}, public.user_week_of(${me.id}::uuid), 10)`;
  const answer = await call("POST", "/api/generate-weekly-analysis", { jwt: me.jwt, body: {} });
  assert.equal(answer.status, 429);
  assert.deepEqual(answer.body, {
    status: "error",
    message: "Weekly refresh limit reached",
    detail: { code: "PT429", message: "Weekly refresh limit reached" },
    refreshes_used: 10,
    refreshes_remaining: 0,
  });
});

dbTest("unknown routes are 404, wrong methods 405, preflights 204; nothing private is logged", async () => {
  const me = await person();
  assert.equal((await call("GET", "/api/nothing-here", { jwt: me.jwt })).status, 404);
  const wrong = await call("GET", "/api/share-with-doctor", { jwt: me.jwt });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  const preflight = await handler(new Request("http://127.0.0.1/api/export-pdf", { method: "OPTIONS" }));
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /authorization/);
  const text = JSON.stringify(logged);
  assert.ok(logged.length > 0);
  assert.ok(!text.includes(me.jwt) && !text.includes("dr@clinic") && !text.includes(me.id));
});

dbTest("SQLSTATEs map to the HTTP statuses PostgREST gives", () => {
  const expected: [string | undefined, number][] = [
    ["PT401", 401],
    ["PT403", 403],
    ["PT404", 404],
    ["PT409", 409],
    ["PT410", 410],
    ["PT429", 429],
    ["22023", 422],
    ["22004", 422],
    ["22P02", 422],
    ["42501", 403],
    ["XX000", 500],
    [undefined, 500],
  ];
  for (const [code, status] of expected) assert.equal(statusOfSqlstate(code), status, code);
  return Promise.resolve();
});

Deno.test({
  name: "close the pool and the storage stand-in",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await storage.shutdown();
    await sql.end({ timeout: 5 });
  },
});
