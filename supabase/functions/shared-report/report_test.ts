// The share page against the test harness's real Postgres (DATABASE_URL).
import assert from "node:assert/strict";
import {
  addNote,
  addPerson,
  addStory,
  addWeek,
  createShare,
  databaseUrl,
  dbTest,
  mondayOf,
  sql,
} from "../_testing/fixtures.ts";
import { createSharedReportHandler, escapeHtml, postgresReportSource, SECURITY_HEADERS } from "./report.ts";

function assertIncludes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected to find ${JSON.stringify(part)}`);
}

function assertNot(condition: boolean, message?: string): void {
  assert.ok(!condition, message);
}

const source = postgresReportSource(databaseUrl);
const errors: Record<string, unknown>[] = [];
const handler = createSharedReportHandler(source, { error: (_m, fields) => errors.push(fields) });

function get(path: string, init: RequestInit = {}): Promise<Response> {
  return handler(new Request(`http://127.0.0.1/functions/v1${path}`, init));
}

function assertSecurityHeaders(response: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.deepEqual(response.headers.get(name), value, name);
  }
  const csp = response.headers.get("content-security-policy") ?? "";
  assertIncludes(csp, "default-src 'none'");
  assertNot(csp.includes("script-src"), "no script source is allowed");
  assertNot(csp.includes("unsafe-inline"));
}

async function sharedStory(title = "Knee week", text = "The knee ached after runs.") {
  const person = await addPerson("Maya Lind", "Europe/Berlin");
  const written = new Date("2026-11-23T07:00:00Z");
  const story = await addStory(person, title, text, written);
  await addNote(person, story, "Ask about the knee");
  await addWeek(person, story, mondayOf(written), "of the week");
  const share = await createShare(person, [story], 7);
  return { person, story, share };
}

dbTest("a link opens the whole report, every section, with the security headers", async () => {
  const { share } = await sharedStory();
  const response = await get(`/shared-report/${share.token}`, { headers: { "user-agent": "Doctor/1.0" } });
  assert.deepEqual(response.status, 200);
  assertSecurityHeaders(response);
  const html = await response.text();
  for (
    const expected of [
      'id="person"',
      "Health report: Maya Lind",
      "Period: 23 November 2026 to 29 November 2026",
      'id="notice"',
      "Not a diagnosis.",
      'id="stories"',
      "Knee week",
      "The knee ached after runs.",
      "Ask about the knee",
      'id="insights"',
      "Insight of the week",
      "70% confidence",
      'id="outlook"',
      "Prediction of the week",
      "40% likely",
      'id="shadow-patterns"',
      "Pattern of the week",
      "9 days missing",
      'id="patterns"',
      "Finding of the week",
      'id="moves"',
      "Move of the week",
      "priority 8",
      'id="expiry"',
      "This link expires on",
    ]
  ) assertIncludes(html, expected);
  assertNot(html.includes("<script"));
  const [row] = await sql`select access_count from public.export_history where id = ${share.share_id}`;
  assert.deepEqual(row.access_count, 1);
  const [log] = await sql`select user_agent_hash from public.share_access_log where share_id = ${share.share_id}`;
  assert.match(String(log.user_agent_hash), /^[0-9a-f]{64}$/);
});

dbTest("an unknown or malformed link is a 404 page", async () => {
  for (const path of ["/shared-report/" + "x".repeat(43), "/shared-report/%E0%A4%A", "/shared-report/", "/other"]) {
    const response = await get(path);
    assert.deepEqual(response.status, 404, path);
    assertSecurityHeaders(response);
    assertIncludes(await response.text(), "Share link not found");
  }
});

dbTest("a token that is not base64url of a token's length never reaches the database", async () => {
  const opened: string[] = [];
  const recording = createSharedReportHandler({
    open: (token) => {
      opened.push(token);
      return Promise.resolve({ kind: "not_found" });
    },
    openFile: (token) => {
      opened.push(token);
      return Promise.resolve({ kind: "not_found" });
    },
  });
  for (const token of ["a".repeat(42) + "%00", "x".repeat(129), "a".repeat(21), "a".repeat(40) + "%2F..", "a b"]) {
    const response = await recording(new Request(`http://127.0.0.1/shared-report/${token}`));
    assert.deepEqual(response.status, 404, token);
    await response.body?.cancel();
  }
  assert.deepEqual(opened, []);
  const fine = await recording(new Request(`http://127.0.0.1/shared-report/${"A-_z".repeat(10)}abc`));
  assert.deepEqual(fine.status, 404);
  await fine.body?.cancel();
  assert.deepEqual(opened.length, 1);
});

dbTest("a revoked or expired link is a 410 page", async () => {
  const { person, share } = await sharedStory();
  const claims = JSON.stringify({ sub: person, role: "authenticated" });
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    await tx`select public.revoke_doctor_share(${share.share_id})`;
  });
  const revoked = await get(`/shared-report/${share.token}`);
  assert.deepEqual(revoked.status, 410);
  assertIncludes(await revoked.text(), "Share link has expired");

  const other = await sharedStory();
  await sql`update public.export_history set expires_at = now() - interval '1 second'
            where id = ${other.share.share_id}`;
  const expired = await get(`/shared-report/${other.share.token}`);
  assert.deepEqual(expired.status, 410);
  assertSecurityHeaders(expired);
  await expired.body?.cancel();
});

dbTest("the guide's /shared/<token> path works too, and only GET is answered", async () => {
  const { share } = await sharedStory();
  const response = await get(`/shared/${share.token}`);
  assert.deepEqual(response.status, 200);
  await response.body?.cancel();
  const posted = await get(`/shared-report/${share.token}`, { method: "POST" });
  assert.deepEqual(posted.status, 405);
  assert.deepEqual(posted.headers.get("allow"), "GET");
  await posted.body?.cancel();
});

dbTest("a failure is a 500 page without details, logged without the token", async () => {
  const failing = createSharedReportHandler(
    {
      open: () => Promise.reject(Object.assign(new Error("secret detail: row 42"), { code: "XX000" })),
      openFile: () => Promise.reject(new Error("not asked")),
    },
    { error: (_m, fields) => errors.push(fields) },
  );
  const token = "a".repeat(43);
  const response = await failing(new Request(`http://127.0.0.1/shared-report/${token}`));
  assert.deepEqual(response.status, 500);
  assertSecurityHeaders(response);
  const html = await response.text();
  assertIncludes(html, "Something went wrong");
  assertNot(html.includes("secret detail"));
  assert.deepEqual(errors.at(-1), { error: "Error", code: "XX000" });
  assertNot(JSON.stringify(errors).includes(token));
});

const PAYLOADS = [
  "<script>alert(1)</script>",
  '"onmouseover=alert(1) x="',
  "</style><script>alert(2)</script>",
];

dbTest("hostile text in a story, a note, an insight and the name is escaped", async () => {
  const hostile = PAYLOADS.join(" ");
  const person = await addPerson(`Eve ${hostile}`);
  const written = new Date("2026-11-23T07:00:00Z");
  const story = await addStory(person, `Title ${hostile}`, `Text ${hostile}`, written);
  await addNote(person, story, `Note ${hostile}`);
  await addWeek(person, story, mondayOf(written), hostile);
  const share = await createShare(person, [story]);

  const response = await get(`/shared-report/${share.token}`);
  assert.deepEqual(response.status, 200);
  const html = await response.text();
  assertNot(html.includes("<script"), "no script element");
  assertNot(/<[^>]*\sonmouseover=/i.test(html), "no event handler attribute");
  assert.deepEqual(html.split("</style>").length, 2, "one style element, closed once");
  assert.deepEqual(html.split("<style>").length, 2);
  for (const payload of PAYLOADS) {
    // Each payload shows as text: in the name, the title, the text, the note and the four lists.
    const shown = html.split(escapeHtml(payload)).length - 1;
    assert.ok(shown >= 9, `${payload} shown ${shown} times`);
  }
});

dbTest("escapeHtml leaves no markup characters", () => {
  assert.deepEqual(
    escapeHtml(`<a href="x" onclick='y'>&</a>`),
    "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
  assert.deepEqual(escapeHtml(null), "");
  return Promise.resolve();
});

dbTest("the function serves over real HTTP on 127.0.0.1", async () => {
  const { share } = await sharedStory();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/shared-report/${share.token}`);
    assert.deepEqual(response.status, 200);
    assertIncludes(await response.text(), "Knee week");
  } finally {
    await server.shutdown();
  }
});

Deno.test({
  name: "close the pools",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await source.close();
    await sql.end({ timeout: 5 });
  },
});
