/**
 * Probes: kinds of bad input sent to a running app or server, each with the answer it must get — a status,
 * and words the answer must say (the field it names, the reason). The tables live beside the tests that
 * send them (apps/<app>/test/probes.ts, packages/trainer/test/serve-probes.ts); docs/reliability.md lists
 * every kind from the same tables, between markers, and a test fails when the list and the tables differ
 * (`RLHF_WRITE_DOCS=1` rewrites the list).
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { coreEnv } from "../env";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
export const RELIABILITY_DOC = path.join(REPO, "docs/reliability.md");

export interface Probe {
  /** What is wrong with the request, as the docs list it. */
  kind: string;
  method?: string;
  /** Path and query, e.g. /api/trpc/labeling.next. */
  path: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  /** Send the request this many times (headers from `headersAt`); the last answer is checked. */
  repeat?: number;
  headersAt?: (attempt: number) => Record<string, string>;
  /** The status it must get. */
  status: number;
  /** What the answer's body must match (the field it names, the reason). */
  says?: RegExp;
  /** What the answer's body must not contain (another task's contents, a path, SQL). */
  never?: RegExp;
  /** A header the answer must carry (a RegExp), or must not carry (null). */
  header?: [name: string, value: RegExp | null];
  /** The expected answer in words, for the docs. */
  expect: string;
}

export interface ProbeResult {
  probe: Probe;
  status: number;
  body: string;
  problem?: string;
}

async function send(baseUrl: string, probe: Probe, attempt: number): Promise<Response> {
  const body =
    probe.body === undefined
      ? undefined
      : typeof probe.body === "string"
        ? probe.body
        : JSON.stringify(probe.body);
  return fetch(`${baseUrl}${probe.path}`, {
    method: probe.method ?? (body === undefined ? "GET" : "POST"),
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...probe.headers,
      ...probe.headersAt?.(attempt),
    },
    body,
    redirect: "manual",
  });
}

/**
 * Whether `text` shows SQL or a PostgreSQL error: a statement's shape (`select <columns> from <table>`,
 * `insert into <table>`) or the server's words (`violates … constraint`, `syntax error at or near`). Columns
 * and tables are identifiers, so a page's prose that says "select" and later "from" (or an ICU message's
 * `{kind, select, …}`) is not SQL.
 */
export function showsSql(text: string): boolean {
  const identifier = String.raw`(?:"[^"\n]{1,64}"|[a-z_][\w$]{0,63})(?:\.(?:"[^"\n]{1,64}"|[a-z_][\w$]{0,63}|\*))?`;
  const columns = String.raw`(?:\*|${identifier}(?:\s*,\s*${identifier}){0,50})`;
  return new RegExp(
    String.raw`\bselect\s+(?:distinct\s+)?${columns}\s+from\s+${identifier}|\binsert\s+into\s+${identifier}|\bviolates\s+(?:not-null|foreign key|unique|check|exclusion)\s+constraint|\bsyntax error at or near\b`,
    "i",
  ).test(text);
}

/** Send one probe and say what, if anything, differs from what it expects. */
export async function runProbe(baseUrl: string, probe: Probe): Promise<ProbeResult> {
  const times = probe.repeat ?? 1;
  let response: Response | undefined;
  for (let attempt = 0; attempt < times; attempt++) {
    response?.body?.cancel().catch(() => {});
    response = await send(baseUrl, probe, attempt);
  }
  const body = await response!.text();
  const problems: string[] = [];
  if (response!.status !== probe.status)
    problems.push(`status ${response!.status}, expected ${probe.status}`);
  if (probe.says && !probe.says.test(body)) problems.push(`the answer does not match ${probe.says}`);
  if (probe.never?.test(body)) problems.push(`the answer matches ${probe.never}, which it must not`);
  if (showsSql(body)) problems.push("the answer shows SQL");
  if (probe.header) {
    const [name, value] = probe.header;
    const got = response!.headers.get(name);
    if (value === null ? got !== null : !(got !== null && value.test(got)))
      problems.push(`header ${name}: ${got ?? "(none)"}`);
  }
  return {
    probe,
    status: response!.status,
    body,
    problem: problems.length ? problems.join("; ") : undefined,
  };
}

/** Every probe, a few at a time; returns the ones whose answer was not the expected one. */
export async function runProbes(baseUrl: string, probes: Probe[], concurrency = 4): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < probes.length) {
        const probe = probes[next++]!;
        results.push(await runProbe(baseUrl, probe));
      }
    }),
  );
  return results.filter((r) => r.problem !== undefined);
}

/** A readable line per failed probe, for the assertion message. */
export function describeFailures(failed: ProbeResult[]): string {
  return failed
    .map((r) => `${r.probe.kind}: ${r.problem}\n    answer: ${r.body.slice(0, 300).replaceAll("\n", " ")}`)
    .join("\n");
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
// Ids differ from run to run: the docs show <id>.
const cell = (text: string) => text.replace(UUID, "<id>").replaceAll("|", "\\|").replaceAll("\n", " ");

/** The docs' table of an area's probes: kind, request, expected answer. */
export function probeTable(probes: Probe[]): string {
  const rows = probes.map(
    (p) =>
      `| ${cell(p.kind)} | \`${cell(`${p.method ?? (p.body === undefined ? "GET" : "POST")} ${p.path.split("?")[0]}`)}\` | ${p.status} — ${cell(p.expect)} |`,
  );
  return ["| bad input | request | expected answer |", "|---|---|---|", ...rows].join("\n");
}

/**
 * The area's section of docs/reliability.md (between `<!-- probes:<area> -->` and `<!-- /probes:<area> -->`)
 * compared with the table made from `probes`: undefined when they agree. With RLHF_WRITE_DOCS=1 the section
 * is rewritten instead.
 */
export function probeDocDrift(area: string, probes: Probe[]): string | undefined {
  const open = `<!-- probes:${area} -->`;
  const close = `<!-- /probes:${area} -->`;
  const doc = readFileSync(RELIABILITY_DOC, "utf8");
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start < 0 || end < start) return `docs/reliability.md has no ${open} … ${close} section`;
  const wanted = `${open}\n${probes.length} kinds.\n\n${probeTable(probes)}\n${close}`;
  const current = doc.slice(start, end + close.length);
  if (current === wanted) return undefined;
  if (coreEnv().RLHF_WRITE_DOCS) {
    writeFileSync(RELIABILITY_DOC, doc.slice(0, start) + wanted + doc.slice(end + close.length));
    return undefined;
  }
  return `docs/reliability.md's ${area} probes differ from the test's table: run the test with RLHF_WRITE_DOCS=1`;
}
