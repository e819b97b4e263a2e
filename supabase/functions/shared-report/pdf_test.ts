// The share's PDF through the share page, against the test harness's real Postgres
// (DATABASE_URL): from a folder laid out as the bucket, and from a Storage stand-in on
// 127.0.0.1; the page's download link; the "pdf" format, where the link itself opens it.
import assert from "node:assert/strict";
import { addPerson, addStory, createShare, databaseUrl, dbTest, sql } from "../_testing/fixtures.ts";
import { createSharedReportHandler, folderFileStore, postgresReportSource, storageFileStore } from "./report.ts";

const source = postgresReportSource(databaseUrl);
const folder = await Deno.makeTempDir();
const PDF: Uint8Array<ArrayBuffer> = new TextEncoder().encode("%PDF-1.4 a report\n%%EOF\n");
const quiet = { error: () => {} };

// Storage on 127.0.0.1: the exports bucket's objects, for the service key only.
const objects = new Map<string, Uint8Array<ArrayBuffer>>();
let storageFails = false;
const storage = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
  const prefix = "/storage/v1/object/health-exports/";
  const url = new URL(request.url);
  if (storageFails) return new Response("{}", { status: 500 });
  if (
    request.headers.get("authorization") !== "Bearer service-key" || request.headers.get("apikey") !== "service-key"
  ) {
    return new Response("{}", { status: 403 });
  }
  const body = url.pathname.startsWith(prefix) ? objects.get(url.pathname.slice(prefix.length)) : undefined;
  return body
    ? new Response(body, { headers: { "Content-Type": "application/pdf" } })
    : new Response("{}", { status: 400 });
});
const storageUrl = `http://127.0.0.1:${storage.addr.port}`;

async function share() {
  const person = await addPerson("Maya Lind", "UTC");
  const story = await addStory(person, "Knee week", "The knee ached.");
  const made = await createShare(person, [story], 7);
  const path = `${person}/shares/${made.share_id}/report.pdf`;
  return { person, path, ...made };
}

async function fileIsMade(path: string, shareId: string): Promise<void> {
  await Deno.mkdir(`${folder}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
  await Deno.writeFile(`${folder}/${path}`, PDF);
  objects.set(path, PDF);
  await sql`update public.export_history set storage_path = ${path} where id = ${shareId}`;
}

async function views(shareId: string): Promise<number> {
  const [row] = await sql`select access_count from public.export_history where id = ${shareId}`;
  return row.access_count as number;
}

dbTest("<link>/pdf opens the share's PDF once it is made, counted as a view; before, a 503 to retry", async () => {
  const html = createSharedReportHandler(source, quiet, { files: folderFileStore(folder) });
  const made = await share();
  const waiting = await html(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}/pdf`));
  assert.equal(waiting.status, 503);
  assert.equal(waiting.headers.get("retry-after"), "60");
  await waiting.body?.cancel();
  await fileIsMade(made.path, made.share_id);
  const opened = await html(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}/pdf/`));
  assert.equal(opened.status, 200);
  assert.equal(opened.headers.get("content-type"), "application/pdf");
  assert.equal(opened.headers.get("content-disposition"), 'inline; filename="health-report.pdf"');
  assert.equal(opened.headers.get("cache-control"), "no-store");
  assert.equal(opened.headers.get("referrer-policy"), "no-referrer");
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), PDF);
  assert.equal(await views(made.share_id), 2);

  // The page offers it; printed, the link is hidden.
  const page = await html(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}`));
  const text = await page.text();
  assert.ok(text.includes(`href="/functions/v1/shared-report/${made.token}/pdf">Download as PDF</a>`));
  // Without a place to read PDFs from, no link, and /pdf is not found.
  const plain = createSharedReportHandler(source, quiet);
  const without = await (await plain(new Request(`http://127.0.0.1/shared-report/${made.token}`))).text();
  assert.ok(!without.includes("Download as PDF"));
  assert.equal((await plain(new Request(`http://127.0.0.1/shared-report/${made.token}/pdf`))).status, 404);
});

dbTest("a revoked, expired or unknown link opens no PDF", async () => {
  const html = createSharedReportHandler(source, quiet, { files: folderFileStore(folder) });
  const revoked = await share();
  await fileIsMade(revoked.path, revoked.share_id);
  await sql`update public.export_history set revoked_at = now() where id = ${revoked.share_id}`;
  const expired = await share();
  await fileIsMade(expired.path, expired.share_id);
  await sql`update public.export_history set expires_at = now() - interval '1 second' where id = ${expired.share_id}`;
  for (const [token, status] of [[revoked.token, 410], [expired.token, 410], ["A".repeat(43), 404]] as const) {
    const response = await html(new Request(`http://127.0.0.1/shared-report/${token}/pdf`));
    assert.equal(response.status, status, token);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    await response.body?.cancel();
  }
});

dbTest('the "pdf" format: the link itself opens the PDF, and errors are one plain sentence', async () => {
  const pdf = createSharedReportHandler(source, quiet, {
    format: "pdf",
    files: storageFileStore({ url: storageUrl, key: "service-key" }),
  });
  const made = await share();
  const waiting = await pdf(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}`));
  assert.equal(waiting.status, 503);
  assert.match(await waiting.text(), /being prepared/);
  await fileIsMade(made.path, made.share_id);
  const opened = await pdf(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}`));
  assert.equal(opened.status, 200);
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), PDF);
  const missing = await pdf(new Request(`http://127.0.0.1/functions/v1/shared-report/${"A".repeat(43)}`));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(await missing.text(), /^Share link not found\./);
  // Storage failing is a 500 without details.
  storageFails = true;
  const failing = await pdf(new Request(`http://127.0.0.1/functions/v1/shared-report/${made.token}`));
  storageFails = false;
  assert.equal(failing.status, 500);
  assert.equal(failing.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(await failing.text(), /^Something went wrong\./);
  assert.throws(() => createSharedReportHandler(source, quiet, { format: "pdf" }), /needs where the PDFs are read/);
  assert.throws(
    () => createSharedReportHandler(source, quiet, { format: "zip" as "pdf", files: folderFileStore(folder) }),
    /html or pdf/,
  );
});

dbTest("only a path as the worker writes it is read, from the folder or from Storage", async () => {
  for (const store of [folderFileStore(folder), storageFileStore({ url: storageUrl, key: "service-key" })]) {
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const path of ["../../etc/passwd", "a/b.pdf", `${a}/${b}.pdf`, `${a}/shares/../${b}/report.pdf`]) {
      assert.equal(await store.get(path), null, path);
    }
    assert.equal(await store.get(`${a}/shares/${b}/report.pdf`), null, "no such file");
  }
});

dbTest("close the pool and the storage stand-in", async () => {
  await source.close();
  await sql.end({ timeout: 5 });
  await storage.shutdown();
  await Deno.remove(folder, { recursive: true });
});
