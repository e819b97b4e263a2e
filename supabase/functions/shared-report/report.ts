// The doctor's share page: GET /shared-report/<token> -> one printable HTML report, and
// GET /shared-report/<token>/pdf -> the same report as the share's PDF (made by the worker's
// share_pdf job). Where HTML cannot be served (the hosted platform without a custom domain
// rewrites text/html to text/plain), the format "pdf" makes the link itself open the PDF.
//
// Guarantees:
// * The report comes from public.get_shared_report(token, user_agent), called through a
//   direct Postgres connection as the role proxima_share_reader, which can execute that
//   function and nothing else. The function counts and logs the view, and refuses
//   unknown (404), expired or revoked (410) links.
// * Every value from the database is HTML-escaped; the page carries no script, and its
//   Content-Security-Policy allows none (default-src 'none', only its own inline style,
//   by hash). It is never cached, never indexed, never sent as a Referer.
// * The PDF comes from the exports bucket at the path get_shared_report_file answers for the
//   token (the same refusals, the view counted and logged); nothing else can be read.
// * Errors show a page without details; the token is never logged.

import { createHash } from "node:crypto";
import postgres from "npm:postgres@3.4.7";

// -- what get_shared_report returns (worker.report.ExportDocument under "report") --------------

export interface Story {
  title: string | null;
  subtitle: string | null;
  week_of: string;
  generated_date: string;
  story_text: string;
  notes: string[];
}

export interface Insight {
  insight_type: string | null;
  title: string;
  description: string;
  confidence: number | null;
}

export interface Prediction {
  event_description: string;
  probability: number | null;
  timeframe: string;
  preventable: boolean | null;
  reasoning: string | null;
}

export interface ShadowPattern {
  pattern_name: string;
  significance: string | null;
  last_seen_description: string;
  last_mentioned_date: string | null;
  days_missing: number | null;
}

export interface Move {
  strategy: string;
  strategy_type: string | null;
  priority: number | null;
  rationale: string | null;
  completion_status: string | null;
}

export interface Week {
  week_of: string;
  covers_start: string | null;
  covers_end: string | null;
  time_zone: string | null;
  /** Patterns in the person's history that held up against chance, in plain words. */
  findings?: string[];
  insights: Insight[];
  predictions: Prediction[];
  shadow_patterns: ShadowPattern[];
  strategic_moves: Move[];
}

export interface SharedReport {
  report: {
    display_name: string | null;
    time_zone: string;
    period_start: string;
    period_end: string;
    generated_at: string;
    stories: Story[];
    weeks: Week[];
  };
  share: { shared_at: string; expires_at: string };
}

export type Lookup =
  | { kind: "found"; document: SharedReport }
  | { kind: "not_found" }
  | { kind: "gone" };

export type FileLookup =
  | { kind: "found"; path: string | null } // null: the PDF is still being made
  | { kind: "not_found" }
  | { kind: "gone" };

/** Where reports come from: the database in production, anything in a test. */
export interface ReportSource {
  open(token: string, userAgent: string | null): Promise<Lookup>;
  openFile(token: string, userAgent: string | null): Promise<FileLookup>;
}

/** Where the shares' PDFs are read: the exports bucket, or a folder (the local server). */
export interface FileStore {
  /** The file's bytes as a stream, or null when there is no such file. */
  get(path: string): Promise<ReadableStream<Uint8Array> | null>;
}

// <user id>/shares/<share id>/report.pdf, as the worker writes it: anything else is not read.
const UUID_PART = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const FILE_PATH = new RegExp(`^${UUID_PART}/shares/${UUID_PART}/report\\.pdf$`);

/** Supabase Storage, with a key that may read the private exports bucket (the service role's). */
export function storageFileStore(
  { url, key, bucket = "health-exports" }: { url: string; key: string; bucket?: string },
): FileStore {
  return {
    async get(path) {
      if (!FILE_PATH.test(path)) return null;
      const response = await fetch(`${url.replace(/\/+$/, "")}/storage/v1/object/${bucket}/${path}`, {
        headers: { Authorization: `Bearer ${key}`, apikey: key },
      });
      if (response.status === 400 || response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        throw Object.assign(new Error(`storage answered HTTP ${response.status}`), { name: "StorageError" });
      }
      return response.body;
    },
  };
}

/** A folder laid out as the bucket (the worker's local exports folder). */
export function folderFileStore(folder: string): FileStore {
  return {
    async get(path) {
      if (!FILE_PATH.test(path)) return null;
      try {
        return (await Deno.open(`${folder.replace(/\/+$/, "")}/${path}`, { read: true })).readable;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
  };
}

/** get_shared_report over a direct connection (SUPABASE_DB_URL), as proxima_share_reader. */
export function postgresReportSource(
  databaseUrl: string,
): ReportSource & { close(): Promise<void> } {
  const sql = postgres(databaseUrl, {
    max: 4,
    prepare: false,
    idle_timeout: 30,
    onnotice: () => {},
  });
  function refused(error: unknown): { kind: "not_found" } | { kind: "gone" } {
    const code = (error as { code?: string }).code;
    if (code === "PT404") return { kind: "not_found" };
    if (code === "PT410") return { kind: "gone" };
    throw error;
  }
  return {
    async open(token, userAgent) {
      try {
        const rows = await sql.begin(async (tx) => {
          await tx`set local role proxima_share_reader`;
          return await tx`select public.get_shared_report(${token}, ${userAgent}) as document`;
        });
        return { kind: "found", document: rows[0].document as SharedReport };
      } catch (error) {
        return refused(error);
      }
    },
    async openFile(token, userAgent) {
      try {
        const rows = await sql.begin(async (tx) => {
          await tx`set local role proxima_share_reader`;
          return await tx`select public.get_shared_report_file(${token}, ${userAgent}) as file`;
        });
        return { kind: "found", path: (rows[0].file as { path: string | null }).path };
      } catch (error) {
        return refused(error);
      }
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

// -- HTML -------------------------------------------------------------------------------------

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text for element content and quoted attributes alike. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6475; --line: #d8dde6; --accent: #24598f;
  --warn: #a15c07; --good: #2b7a4b; --paper: #ffffff; --band: #f4f6f9; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--band); color: var(--ink);
  font: 16px/1.55 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 1.25rem; background: var(--paper); }
header { border-bottom: 3px solid var(--accent); padding-bottom: .75rem; margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; color: var(--accent); border-bottom: 1px solid var(--line);
  padding-bottom: .25rem; margin: 1.75rem 0 .75rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
p { margin: .4rem 0; }
.meta { color: var(--muted); margin: .15rem 0; }
.notice { border-left: 4px solid var(--warn); background: #fff7ea; padding: .6rem .9rem; margin: 1rem 0; }
article, li.card { break-inside: avoid; page-break-inside: avoid; }
article { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin: .75rem 0; }
article h3 { margin-top: 0; }
ul.cards { list-style: none; padding: 0; margin: 0; }
li.card { border-left: 3px solid var(--line); padding: .35rem .8rem; margin: .6rem 0; }
li.warning { border-left-color: var(--warn); }
li.positive { border-left-color: var(--good); }
.tag { display: inline-block; font-size: .8rem; color: var(--muted); border: 1px solid var(--line);
  border-radius: 999px; padding: 0 .5rem; margin-left: .35rem; white-space: nowrap; }
.notes { background: var(--band); padding: .5rem .8rem; border-radius: 4px; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 2rem; border-top: 1px solid var(--line); padding-top: .75rem; color: var(--muted);
  font-size: .9rem; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: .85rem; } h1 { font-size: 1.35rem; } }
a.download { color: var(--accent); font-weight: 600; }
@media print {
  a.download { display: none; }
  body { background: none; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .notice { background: none; }
  a { color: inherit; text-decoration: none; }
}
`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** The headers of every page: no script, no caching, no indexing, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; ` +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex, nofollow, noarchive",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
};

const NOT_A_DIAGNOSIS = "It was written with the help of an AI model from what the person " +
  "logged in the Proxima app (symptoms, scans, conversations and notes), and is meant to support a " +
  "conversation with a clinician, not to replace clinical judgement.";

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function parseDay(day: string): Date {
  return new Date(`${day}T00:00:00Z`);
}

const DAY = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "long",
  year: "numeric",
  timeZone: "UTC",
});
const MOMENT = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "long",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: "UTC",
});

export function formatDay(day: string | null): string {
  return day ? DAY.format(parseDay(day)) : "";
}

export function formatMoment(moment: string): string {
  return `${MOMENT.format(new Date(moment))} UTC`;
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => `<p>${escapeHtml(part).replace(/\n/g, "<br>")}</p>`)
    .join("\n");
}

function tag(text: string | number | null | undefined): string {
  return text === null || text === undefined || text === "" ? "" : `<span class="tag">${escapeHtml(text)}</span>`;
}

function weekHeading(week: Week): string {
  const covers = week.covers_start && week.covers_end
    ? ` <span class="meta">(covers ${escapeHtml(formatDay(week.covers_start))} to ${
      escapeHtml(formatDay(week.covers_end))
    }${week.time_zone ? `, ${escapeHtml(week.time_zone)}` : ""})</span>`
    : "";
  return `<h3>Week of ${escapeHtml(formatDay(week.week_of))}${covers}</h3>`;
}

function perWeek<T>(
  weeks: Week[],
  pick: (w: Week) => T[],
  item: (x: T) => string,
  none: string,
): string {
  if (weeks.length === 0) return `<p class="empty">No analysis was shared.</p>`;
  return weeks
    .map((week) => {
      const items = pick(week);
      const list = items.length === 0
        ? `<p class="empty">${escapeHtml(none)}</p>`
        : `<ul class="cards">\n${items.map(item).join("\n")}\n</ul>`;
      return `${weekHeading(week)}\n${list}`;
    })
    .join("\n");
}

function storyArticle(story: Story): string {
  const notes = story.notes.length === 0
    ? ""
    : `<div class="notes"><strong>Personal notes</strong>\n${
      story.notes.map((note) => `<p>${escapeHtml(note)}</p>`).join("\n")
    }</div>`;
  return `<article>
<h3>${escapeHtml(story.title || "Untitled story")}</h3>
${story.subtitle ? `<p class="meta">${escapeHtml(story.subtitle)}</p>` : ""}
<p class="meta">Week of ${escapeHtml(formatDay(story.week_of))} · written ${
    escapeHtml(formatDay(story.generated_date))
  }</p>
${paragraphs(story.story_text)}
${notes}
</article>`;
}

/** The whole report page; `pdfHref`, where the share's PDF is offered (none: not offered). */
export function renderReport(document: SharedReport, pdfHref: string | null = null): string {
  const report = document.report;
  const who = report.display_name?.trim() || "A Proxima user";
  const weeks = report.weeks;
  const body = `<header id="person">
<h1>Health report: ${escapeHtml(who)}</h1>
<p class="meta">Period: ${escapeHtml(formatDay(report.period_start))} to ${escapeHtml(formatDay(report.period_end))}</p>
<p class="meta">Shared ${escapeHtml(formatMoment(document.share.shared_at))}</p>
${pdfHref ? `<p class="meta"><a class="download" href="${escapeHtml(pdfHref)}">Download as PDF</a></p>` : ""}
</header>
<p class="notice" id="notice" role="note"><strong>Not a diagnosis.</strong> ${escapeHtml(NOT_A_DIAGNOSIS)}</p>
<section id="stories">
<h2>Stories</h2>
${
    report.stories.length === 0
      ? `<p class="empty">The shared stories are no longer available.</p>`
      : report.stories.map(storyArticle).join("\n")
  }
</section>
<section id="insights">
<h2>Key insights</h2>
${
    perWeek(
      weeks,
      (w) => w.insights,
      (i) =>
        `<li class="card ${escapeHtml(i.insight_type ?? "")}"><strong>${escapeHtml(i.title)}</strong>${
          tag(i.insight_type)
        }${tag(i.confidence === null ? null : `${i.confidence}% confidence`)}<p>${escapeHtml(i.description)}</p></li>`,
      "No insights for this week.",
    )
  }
</section>
<section id="outlook">
<h2>Health outlook</h2>
${
    perWeek(weeks, (w) =>
      w.predictions, (p) =>
      `<li class="card"><strong>${escapeHtml(p.event_description)}</strong>${
        tag(p.probability === null ? null : `${p.probability}% likely`)
      }${tag(p.timeframe)}${tag(p.preventable ? "preventable" : null)}${
        p.reasoning ? `<p>${escapeHtml(p.reasoning)}</p>` : ""
      }</li>`, "No outlook for this week.")
  }
</section>
<section id="shadow-patterns">
<h2>Shadow patterns</h2>
<p class="meta">Things that were prominent in the weeks before and went missing.</p>
${
    perWeek(
      weeks,
      (w) => w.shadow_patterns,
      (s) =>
        `<li class="card"><strong>${escapeHtml(s.pattern_name)}</strong>${tag(s.significance)}${
          tag(s.days_missing === null ? null : `${s.days_missing} days missing`)
        }${
          tag(
            s.last_mentioned_date ? `last seen ${formatDay(s.last_mentioned_date)}` : null,
          )
        }<p>${escapeHtml(s.last_seen_description)}</p></li>`,
      "No shadow patterns this week.",
    )
  }
</section>
<section id="patterns">
<h2>Patterns in the history</h2>
<p class="meta">Tested against chance over up to twelve weeks; only what held up is shown.</p>
${
    perWeek(
      weeks,
      (w) => w.findings ?? [],
      (f) => `<li class="card"><p>${escapeHtml(f)}</p></li>`,
      "No pattern held up against chance this week.",
    )
  }
</section>
<section id="moves">
<h2>Strategic moves</h2>
${
    perWeek(
      weeks,
      (w) => w.strategic_moves,
      (m) =>
        `<li class="card"><strong>${escapeHtml(m.strategy)}</strong>${tag(m.strategy_type)}${
          tag(m.priority === null ? null : `priority ${m.priority}`)
        }${tag(m.completion_status)}${m.rationale ? `<p>${escapeHtml(m.rationale)}</p>` : ""}</li>`,
      "No strategic moves for this week.",
    )
  }
</section>
<footer id="expiry">
<p>This link expires on ${escapeHtml(formatMoment(document.share.expires_at))}. Anyone who has it can open this
report until then; please do not forward it.</p>
<p>Generated ${escapeHtml(formatMoment(report.generated_at))} by Proxima.</p>
</footer>`;
  return page(`Health report: ${who}`, body);
}

/** A page without details, for 404, 410, 405 and 500. */
export function renderError(status: number): string {
  const [title, text] = ({
    404: [
      "Share link not found",
      "This link does not lead to a report. Check that it was copied completely.",
    ],
    410: [
      "Share link has expired",
      "This report is no longer shared. Ask the person who sent it for a new link.",
    ],
    405: ["Method not allowed", "This page can only be read."],
  } as Record<number, [string, string]>)[status] ??
    [
      "Something went wrong",
      "The report could not be shown just now. Please try again in a few minutes.",
    ];
  return page(
    title,
    `<header><h1>${escapeHtml(title)}</h1></header>\n<p>${escapeHtml(text)}</p>`,
  );
}

// -- HTTP -------------------------------------------------------------------------------------

function respond(
  status: number,
  html: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(html, {
    status,
    headers: { ...SECURITY_HEADERS, ...extra },
  });
}

/** The token is the path segment after /shared-report/ (or the guide's /shared/), then
 * optionally /pdf for the share's PDF. */
export function sharePath(pathname: string): { token: string; pdf: boolean } | null {
  const match = pathname.match(
    /^(?:\/functions\/v1)?\/(?:shared-report|shared)\/([^/]+)(\/pdf)?\/?$/,
  );
  if (!match) return null;
  const token = decodeURIComponent(match[1]);
  // A share token is base64url (43 characters as minted; get_shared_report takes 22 to 128):
  // anything else is no share's, answered without a database call (a NUL, 100 KB of junk).
  return /^[A-Za-z0-9_-]{22,128}$/.test(token) ? { token, pdf: match[2] !== undefined } : null;
}

export interface Logger {
  error(message: string, fields: Record<string, unknown>): void;
}

const consoleLogger: Logger = {
  error(message, fields) {
    console.error(JSON.stringify({ level: "error", message, ...fields }));
  },
};

export interface ShareOptions {
  /** "html" (default): the link opens the page and <link>/pdf the PDF; "pdf": both open the PDF. */
  format?: "html" | "pdf";
  /** Where the PDFs are read; without it there is no PDF (and "pdf" is refused). */
  files?: FileStore;
}

const PDF_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "application/pdf",
  "Content-Disposition": 'inline; filename="health-report.pdf"',
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex, nofollow, noarchive",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const PLAIN_TEXT: Record<number, string> = {
  404: "Share link not found. This link does not lead to a report; check that it was copied completely.",
  410: "Share link has expired. This report is no longer shared; ask the person who sent it for a new link.",
  503: "The report's PDF is being prepared. Please try again in a minute.",
  500: "Something went wrong. The report could not be shown just now; please try again in a few minutes.",
};

/** The page's request handler. */
export function createSharedReportHandler(
  source: ReportSource,
  log: Logger = consoleLogger,
  options: ShareOptions = {},
): (request: Request) => Promise<Response> {
  const format = options.format ?? "html";
  if (format !== "html" && format !== "pdf") throw new Error(`the share page's format must be html or pdf`);
  if (format === "pdf" && !options.files) throw new Error("the pdf format needs where the PDFs are read");
  const files = options.files;

  /** An error as the format shows it: a page, or (where HTML is not served) one sentence. */
  function failure(status: number, extra: Record<string, string> = {}): Response {
    if (format === "html" || !(status in PLAIN_TEXT)) {
      return respond(status, renderError(status === 503 ? 500 : status), extra);
    }
    return new Response(PLAIN_TEXT[status] + "\n", {
      status,
      headers: { ...PDF_HEADERS, "Content-Type": "text/plain; charset=utf-8", ...extra },
    });
  }

  async function pdf(token: string, userAgent: string | null): Promise<Response> {
    if (!files) return failure(404);
    const found = await source.openFile(token, userAgent);
    if (found.kind === "not_found") return failure(404);
    if (found.kind === "gone") return failure(410);
    const body = found.path === null ? null : await files.get(found.path);
    if (body === null) return failure(503, { "Retry-After": "60" });
    return new Response(body, { status: 200, headers: PDF_HEADERS });
  }

  return async (request: Request): Promise<Response> => {
    if (request.method !== "GET") {
      return respond(405, renderError(405), { Allow: "GET" });
    }
    let path: { token: string; pdf: boolean } | null;
    let pathname = "";
    try {
      pathname = new URL(request.url).pathname;
      path = sharePath(pathname);
    } catch {
      path = null;
    }
    if (path === null) return failure(404);
    const userAgent = request.headers.get("user-agent");
    try {
      if (path.pdf || format === "pdf") return await pdf(path.token, userAgent);
      const found = await source.open(path.token, userAgent);
      if (found.kind === "not_found") return respond(404, renderError(404));
      if (found.kind === "gone") return respond(410, renderError(410));
      const pdfHref = files ? pathname.replace(/\/+$/, "") + "/pdf" : null;
      return respond(200, renderReport(found.document, pdfHref));
    } catch (error) {
      // The kind of failure only: never the token, never the report.
      log.error("shared report failed", {
        error: error instanceof Error ? error.name : "unknown",
        code: (error as { code?: string }).code ?? null,
      });
      return failure(500);
    }
  };
}
