/**
 * Bad input to the dashboard, each kind with the answer it must get: ingest (token first, then the
 * payload field by field), reading and launching over tRPC, checkpoint files, sign-in, the pages' headers,
 * and what a stranger may see. Sent by probe.test.ts to the production build; listed in
 * docs/reliability.md from this table.
 */
import type { Probe } from "@rlhf/core/testing/probes";

export interface DashboardProbeContext {
  admin: string;
  annotator: string;
  /** An ingest token, and one revoked. */
  token: string;
  revoked: string;
  /** A workbench (sft) run with a checkpoint, served from `checkpointDir` on `workerHost`. */
  runId: string;
  checkpointId: string;
  checkpointDir: string;
  workerHost: string;
  apiKey: string;
}

const BAD = 400;
const NOWHERE = "00000000-0000-4000-8000-000000000000";

function call(procedure: string, input: unknown, cookie?: string, method: "POST" | "GET" = "POST") {
  const headers = cookie ? { cookie } : undefined;
  if (method === "GET") {
    const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
    return { path: `/api/trpc/${procedure}${query}`, headers };
  }
  return { path: `/api/trpc/${procedure}`, body: input === undefined ? {} : { json: input }, headers };
}

/** Ingest probes that pass the token and fail on the payload: a 400 naming `field`. */
function payload(kind: string, body: unknown, field: RegExp, expect: string, token: string): Probe {
  return {
    kind: `ingest: ${kind}`,
    path: "/api/ingest",
    body,
    headers: { authorization: `Bearer ${token}` },
    status: BAD,
    says: field,
    expect,
  };
}

export function dashboardProbes(c: DashboardProbeContext): Probe[] {
  const run = { name: "probe-external" };
  const p = (kind: string, body: unknown, field: RegExp, expect: string) =>
    payload(kind, body, field, expect, c.token);
  const bad = (
    kind: string,
    procedure: string,
    input: unknown,
    says: RegExp,
    expect: string,
    method: "POST" | "GET" = "GET",
  ): Probe => ({
    kind: `${procedure}: ${kind}`,
    ...call(procedure, input, c.admin, method),
    status: BAD,
    says,
    expect: `BAD_REQUEST: ${expect}`,
  });
  const secrets = new RegExp(
    [c.workerHost, c.checkpointDir, c.apiKey, "admin@example\\.com"]
      .map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
      .join("|"),
  );

  return [
    // Ingest: who may send, before the body is read.
    {
      kind: "ingest: no token",
      path: "/api/ingest",
      body: { run },
      status: 401,
      says: /missing token/,
      expect: "missing token",
    },
    {
      kind: "ingest: an empty Bearer",
      path: "/api/ingest",
      body: { run },
      headers: { authorization: "Bearer " },
      status: 401,
      says: /missing token/,
      expect: "missing token",
    },
    {
      kind: "ingest: an unknown token",
      path: "/api/ingest",
      body: { run },
      headers: { authorization: "Bearer rlhf_nope" },
      status: 401,
      says: /unknown or revoked token/,
      expect: "unknown or revoked token",
    },
    {
      kind: "ingest: a revoked token",
      path: "/api/ingest",
      body: { run },
      headers: { authorization: `Bearer ${c.revoked}` },
      status: 401,
      says: /unknown or revoked token/,
      expect: "unknown or revoked token",
    },
    {
      kind: "ingest: the token under Basic",
      path: "/api/ingest",
      body: { run },
      headers: { authorization: `Basic ${c.token}` },
      status: 401,
      says: /unknown or revoked token/,
      expect: "unknown or revoked token",
    },
    {
      kind: "ingest: 18 MB without a token (never read)",
      path: "/api/ingest",
      body: "x".repeat(18 * 1024 * 1024),
      status: 401,
      says: /missing token/,
      expect: "missing token, before the body is read",
    },
    {
      kind: "ingest: 17 MB with a token",
      path: "/api/ingest",
      body: "x".repeat(17 * 1024 * 1024),
      headers: { authorization: `Bearer ${c.token}` },
      status: 413,
      says: /over the limit of 16777216 bytes/,
      expect: "over the limit of 16777216 bytes",
    },
    { kind: "ingest: GET", path: "/api/ingest", status: 405, expect: "method not allowed" },
    // Ingest: the payload, field by field.
    p("a body that is not JSON", "{run:", /not JSON/, "the body is not JSON"),
    p("an empty body", "", /not JSON/, "the body is not JSON"),
    p("a JSON array", "[]", /invalid ingest payload/, "invalid ingest payload (root)"),
    p("JSON null", "null", /invalid ingest payload/, "invalid ingest payload (root)"),
    p("no run", { metrics: [] }, /"path":"run"/, "run: required"),
    p(
      "a run with neither id nor name",
      { run: {} },
      /give the run's id or its name/,
      "run: give the run's id or its name",
    ),
    p("run.id not a UUID", { run: { id: "run-1" } }, /"path":"run.id"/, "run.id: invalid UUID"),
    p(
      "run.name a UUID",
      { run: { name: NOWHERE } },
      /run name .* is a UUID/,
      "run.name: is a UUID, which is how runs are referred to by id",
    ),
    p("run.name run:<UUID>", { run: { name: `run:${NOWHERE}` } }, /is a UUID/, "run.name: is a UUID"),
    p(
      "run.name with a NUL",
      { run: { name: "a\u0000b" } },
      /run\.name: contains a NUL/,
      "run.name: contains a NUL character",
    ),
    p(
      "run.name of 201 characters",
      { run: { name: "n".repeat(201) } },
      /"path":"run.name"/,
      "run.name: at most 200",
    ),
    p("run.name blank", { run: { name: "   " } }, /"path":"run.name"/, "run.name: too small"),
    p(
      "run.status unknown",
      { run: { ...run, status: "done" } },
      /"path":"run.status"/,
      "run.status: one of running, succeeded, failed, cancelled",
    ),
    p(
      "run.totalSteps negative",
      { run: { ...run, totalSteps: -1 } },
      /"path":"run.totalSteps"/,
      "run.totalSteps: ≥ 0",
    ),
    p(
      "run.summary holding an object",
      { run: { ...run, summary: { a: { b: 1 } } } },
      /"path":"run.summary.a"/,
      "run.summary.a: a number, string, boolean or null",
    ),
    p(
      "run.error of 20,001 characters",
      { run: { ...run, error: "e".repeat(20_001) } },
      /"path":"run.error"/,
      "run.error: at most 20000",
    ),
    p(
      "a NUL in a config key",
      { run: { ...run, config: { "lr\u0000": 1 } } },
      /run\.config\.lr\\\\u0000: contains a NUL/,
      "run.config.<key>: contains a NUL character",
    ),
    p(
      "a NUL in a config value",
      { run: { ...run, config: { note: "\u0000" } } },
      /run\.config\.note: contains a NUL/,
      "run.config.note: contains a NUL character",
    ),
    p(
      "a negative step",
      { run, metrics: [{ step: -1, values: { loss: 1 } }] },
      /"path":"metrics.0.step"/,
      "metrics.0.step: ≥ 0",
    ),
    p(
      "a fractional step",
      { run, metrics: [{ step: 1.5, values: { loss: 1 } }] },
      /"path":"metrics.0.step"/,
      "metrics.0.step: an integer",
    ),
    p(
      "a step as a string",
      { run, metrics: [{ step: "1", values: { loss: 1 } }] },
      /"path":"metrics.0.step"/,
      "metrics.0.step: a number",
    ),
    p(
      "a metric value that is a string",
      { run, metrics: [{ step: 1, values: { loss: "low" } }] },
      /"path":"metrics.0.values.loss"/,
      "metrics.0.values.loss: a number",
    ),
    p(
      "an empty metric key",
      { run, metrics: [{ step: 1, values: { "": 1 } }] },
      /"path":"metrics.0.values/,
      "metrics.0.values: key too small",
    ),
    p(
      "a metric key of 201 characters",
      { run, metrics: [{ step: 1, values: { ["k".repeat(201)]: 1 } }] },
      /"path":"metrics.0.values/,
      "metrics.0.values: key at most 200",
    ),
    p(
      "a NUL in a metric key",
      { run, metrics: [{ step: 1, values: { "lo\u0000ss": 1 } }] },
      /metrics\.0\.values\.lo\\\\u0000ss: contains a NUL/,
      "metrics.0.values.<key>: contains a NUL character",
    ),
    p(
      "a time of 1e20",
      { run, metrics: [{ step: 1, values: { loss: 1 }, time: 1e20 }] },
      /"path":"metrics.0.time"/,
      "metrics.0.time: at most 253402300799 (the year 9999)",
    ),
    p(
      "a negative time",
      { run, metrics: [{ step: 1, values: { loss: 1 }, time: -5 }] },
      /"path":"metrics.0.time"/,
      "metrics.0.time: positive",
    ),
    p(
      "a time that is not a date",
      { run, metrics: [{ step: 1, values: { loss: 1 }, time: "yesterday" }] },
      /"path":"metrics.0.time"/,
      "metrics.0.time: seconds or ISO 8601",
    ),
    p(
      "10,001 metric points",
      { run, metrics: Array.from({ length: 10_001 }, (_, i) => ({ step: i, values: { l: 1 } })) },
      /"path":"metrics"/,
      "metrics: at most 10000",
    ),
    p(
      "a 100,001-character sample prompt",
      { run, samples: [{ step: 0, prompt: "p".repeat(100_001), response: "r" }] },
      /"path":"samples.0.prompt"/,
      "samples.0.prompt: at most 100000",
    ),
    p(
      "a NUL in a sample",
      { run, samples: [{ step: 0, prompt: "p", response: "r\u0000" }] },
      /samples\.0\.response: contains a NUL/,
      "samples.0.response: contains a NUL character",
    ),
    p(
      "1,001 samples",
      { run, samples: Array.from({ length: 1001 }, () => ({ step: 0, prompt: "p", response: "r" })) },
      /"path":"samples"/,
      "samples: at most 1000",
    ),
    p(
      "an unknown log level",
      { run, logs: [{ message: "m", level: "fatal" }] },
      /"path":"logs.0.level"/,
      "logs.0.level: debug, info, warn or error",
    ),
    p(
      "a NUL in a log line",
      { run, logs: [{ message: "m\u0000" }] },
      /logs\.0\.message: contains a NUL/,
      "logs.0.message: contains a NUL character",
    ),
    p(
      "a log time of 1e300",
      { run, logs: [{ message: "m", time: 1e300 }] },
      /"path":"logs.0.time"/,
      "logs.0.time: at most the year 9999",
    ),
    {
      kind: "ingest: into a run of the workbench",
      path: "/api/ingest",
      body: { run: { id: c.runId } },
      headers: { authorization: `Bearer ${c.token}` },
      status: 409,
      says: /only external runs take ingested data/,
      expect: "only external runs take ingested data",
    },

    // Reading.
    bad("id not a UUID", "runs.detail", { id: "x" }, /expected a run id/, "expected a run id"),
    {
      kind: "runs.detail: a run that does not exist",
      ...call("runs.detail", { id: NOWHERE }, c.admin, "GET"),
      status: 404,
      says: /no run with id or name/,
      expect: "NOT_FOUND: no run with id or name …",
    },
    bad("limit 0", "runs.list", { limit: 0 }, /limit/, "names limit"),
    bad("limit 501", "runs.list", { limit: 501 }, /limit/, "names limit"),
    bad("an unknown kind", "runs.list", { kinds: ["magic"] }, /kinds/, "names kinds"),
    bad("an unknown status", "runs.list", { statuses: ["paused"] }, /statuses/, "names statuses"),
    bad("a 201-character search", "runs.list", { search: "s".repeat(201) }, /search/, "names search"),
    bad(
      "a NUL in the search",
      "runs.list",
      { search: "a\u0000" },
      /search: contains a NUL/,
      "search: contains a NUL character",
    ),
    bad("no ids", "runs.configs", { ids: [] }, /ids/, "names ids"),
    bad("21 ids", "runs.configs", { ids: Array(21).fill(NOWHERE) }, /ids/, "names ids"),
    bad("a negative afterId", "runs.logs", { runId: c.runId, afterId: -1 }, /afterId/, "names afterId"),
    bad("13 runs", "metrics.keys", { runIds: Array(13).fill(NOWHERE) }, /runIds/, "names runIds"),
    bad(
      "5 buckets",
      "metrics.series",
      { runIds: [c.runId], key: "loss", buckets: 5 },
      /buckets/,
      "names buckets",
    ),
    bad(
      "fromStep after toStep",
      "metrics.series",
      { runIds: [c.runId], key: "loss", buckets: 100, fromStep: 9, toStep: 2 },
      /fromStep must not be after toStep/,
      "fromStep must not be after toStep",
    ),
    bad("an empty key", "metrics.series", { runIds: [c.runId], key: "", buckets: 100 }, /key/, "names key"),
    bad(
      "501 cursors",
      "metrics.since",
      { cursors: Array(501).fill({ runId: c.runId, key: "k", afterStep: 0 }) },
      /cursors/,
      "names cursors",
      "POST", // as the dashboard's client sends queries
    ),
    bad("runId not a UUID", "samples.list", { runId: "r" }, /runId/, "names runId"),
    bad(
      "a negative step",
      "samples.sideBySide",
      { a: { runId: c.runId, step: -1 }, b: { runId: c.runId, step: 0 } },
      /step/,
      "names a.step",
    ),

    // Launching.
    {
      kind: "launch.run without a session",
      ...call("launch.run", { kind: "pretrain", config: {} }),
      status: 401,
      says: /Sign in/,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "launch.run by an annotator",
      ...call("launch.run", { kind: "pretrain", config: {} }, c.annotator),
      status: 403,
      says: /Only an admin/,
      expect: "FORBIDDEN: only an admin",
    },
    {
      kind: "launch.run from another site's page",
      ...call("launch.run", { kind: "pretrain", config: {} }),
      headers: { cookie: c.admin, "sec-fetch-site": "cross-site" },
      status: 403,
      says: /Cross-site/,
      expect: "FORBIDDEN: cross-site",
    },
    bad("an unknown kind", "launch.run", { kind: "magic", config: {} }, /kind/, "names kind", "POST"),
    bad(
      "a 201-character name",
      "launch.run",
      { kind: "pretrain", name: "n".repeat(201), config: {} },
      /name/,
      "names name",
      "POST",
    ),
    bad(
      "a NUL in the config",
      "launch.run",
      { kind: "pretrain", config: { dataset: "d\u0000" } },
      /config\.dataset: contains a NUL/,
      "config.dataset: contains a NUL character",
      "POST",
    ),
    {
      kind: "launch.run: a typo in a config key",
      ...call("launch.run", { kind: "pretrain", config: { maxStep: 5 } }, c.admin),
      status: 200,
      says: /"ok":false.*unknown key \\"maxStep\\"; did you mean \\"maxSteps\\"\?/,
      expect:
        'ok: false, issues: maxStep: unknown key "maxStep"; did you mean "maxSteps"? (nothing launched)',
    },
    {
      kind: "launch.run: a run name that is a UUID",
      ...call("launch.run", { kind: "pretrain", name: NOWHERE, config: {} }, c.admin),
      status: 200,
      says: /"ok":false.*"path":"name".*is a UUID/,
      expect: "ok: false, issues: name: is a UUID (nothing launched)",
    },
    {
      kind: "launch.run: a value out of range",
      ...call("launch.run", { kind: "pretrain", config: { maxSteps: -1 } }, c.admin),
      status: 200,
      says: /"ok":false.*"path":"maxSteps"/,
      expect: "ok: false, issues: maxSteps: ≥ 1 (nothing launched)",
    },
    {
      kind: "launch.cancel: a run that does not exist",
      ...call("launch.cancel", { id: NOWHERE }, c.admin),
      status: 404,
      says: /no run with id or name/,
      expect: "NOT_FOUND",
    },
    bad("id not a UUID", "launch.cancel", { id: "r" }, /id/, "names id", "POST"),
    {
      kind: "launch.cancel without a session",
      ...call("launch.cancel", { id: c.runId }),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "launch.demo by an annotator",
      ...call("launch.demo", { quick: true }, c.annotator),
      status: 403,
      expect: "FORBIDDEN",
    },
    {
      kind: "playground.generate without a session",
      ...call("playground.generate", { checkpointId: c.checkpointId, settings: {} }),
      status: 401,
      expect: "UNAUTHORIZED",
    },

    // Dataset imports from the dashboard.
    {
      kind: "data.importDataset by an annotator",
      ...call("data.importDataset", { kind: "text", name: "t", content: "x" }, c.annotator),
      status: 403,
      expect: "FORBIDDEN",
    },
    bad(
      "an unknown kind",
      "data.importDataset",
      { kind: "images", name: "t", content: "x" },
      /kind/,
      "names kind",
      "POST",
    ),
    bad(
      "a NUL in the name",
      "data.importDataset",
      { kind: "text", name: "t\u0000", content: "x" },
      /name: contains a NUL/,
      "name: contains a NUL character",
      "POST",
    ),
    bad(
      "an empty file",
      "data.importDataset",
      { kind: "text", name: "t", content: "" },
      /the file is empty/,
      "the file is empty",
      "POST",
    ),
    bad(
      "evalFraction 1",
      "data.importDataset",
      { kind: "text", name: "t", content: "x", evalFraction: 1 },
      /evalFraction/,
      "names evalFraction",
      "POST",
    ),
    {
      kind: "data.importDataset: a NUL inside a JSONL line",
      ...call(
        "data.importDataset",
        { kind: "sft", name: "probe-sft", content: JSON.stringify({ prompt: "p", response: "r\u0000" }) },
        c.admin,
      ),
      status: 200,
      says: /"ok":false.*"line":1.*"field":"response".*contains a NUL/,
      expect: "ok: false, problems: line 1, response: contains a NUL character (nothing stored)",
    },
    {
      kind: "data.importDataset: a line that is not JSON",
      ...call("data.importDataset", { kind: "sft", name: "probe-sft", content: "{prompt" }, c.admin),
      status: 200,
      says: /"ok":false.*"line":1.*not valid JSON/,
      expect: "ok: false, problems: line 1: not valid JSON (nothing stored)",
    },

    // tRPC itself.
    {
      kind: "a batch of 65 calls",
      path: `/api/trpc/${Array(65).fill("session.me").join(",")}?batch=1&input=${encodeURIComponent("{}")}`,
      status: BAD,
      says: /batch/i,
      expect: "BAD_REQUEST: batch too large (at most 64)",
    },
    { kind: "an unknown procedure", ...call("runs.drop", {}, c.admin), status: 404, expect: "NOT_FOUND" },
    {
      kind: "a 2 MB body from someone not signed in",
      ...call("runs.list", { search: "s".repeat(2_000_000) }),
      status: 413,
      says: /over the limit of 1048576 bytes/,
      expect: "PAYLOAD_TOO_LARGE, before parsing",
    },

    // Checkpoint files (weights).
    {
      kind: "checkpoint files without a session",
      path: `/api/checkpoints/${c.checkpointId}/model.safetensors`,
      status: 401,
      says: /sign in/,
      expect: "sign in to download",
    },
    {
      kind: "checkpoint files: an unknown checkpoint",
      path: `/api/checkpoints/${NOWHERE}/config.json`,
      headers: { cookie: c.annotator },
      status: 404,
      says: /no checkpoint/,
      expect: "no checkpoint …",
    },
    {
      kind: "checkpoint files: an id that is not a UUID",
      path: "/api/checkpoints/abc/config.json",
      headers: { cookie: c.annotator },
      status: 404,
      expect: "no checkpoint abc",
    },
    {
      kind: "checkpoint files: a file not served",
      path: `/api/checkpoints/${c.checkpointId}/optimizer.bin`,
      headers: { cookie: c.annotator },
      status: 404,
      says: /no such checkpoint file/,
      expect: "no such checkpoint file; one of config.json, model.safetensors, tokenizer.json",
    },
    {
      kind: "checkpoint files: ../ in the name",
      path: `/api/checkpoints/${c.checkpointId}/..%2F..%2Fetc%2Fpasswd`,
      headers: { cookie: c.annotator },
      status: 404,
      expect: "not found",
    },

    // Sign-in through the dashboard.
    {
      kind: "sign-in: a NUL in the email (dashboard)",
      path: "/api/auth/sign-in/email",
      body: { email: "a\u0000@example.com", password: "x" },
      status: BAD,
      says: /email: contains a NUL/,
      expect: "email: contains a NUL character",
    },
    {
      kind: "sign-in: a 100 KB body (dashboard)",
      path: "/api/auth/sign-in/email",
      body: { email: "a@example.com", password: "p".repeat(100_000) },
      status: 413,
      expect: "over the limit of 65536 bytes",
    },

    // What strangers see.
    {
      kind: "a stranger reads a run: host, path and key hidden",
      ...call("runs.detail", { id: c.runId }, undefined, "GET"),
      status: 200,
      says: /…\/step-000007/,
      never: secrets,
      expect: "the run, with …/<last part> for paths and (hidden) for hosts and keys",
    },
    {
      kind: "a stranger reads a run's log",
      ...call("runs.logs", { runId: c.runId }, undefined, "GET"),
      status: 200,
      never: secrets,
      expect: "the log, paths and host names scrubbed",
    },
    {
      kind: "a stranger reads the data page",
      ...call("data.overview", undefined, undefined, "GET"),
      status: 200,
      never: secrets,
      expect: "datasets, emails scrubbed",
    },
    {
      kind: "an annotator reads a serve run's key",
      ...call("runs.configs", { ids: [c.runId] }, c.annotator, "GET"),
      status: 200,
      says: /\(hidden\)/,
      never: new RegExp(c.apiKey),
      expect: "apiKey: (hidden) — admins only",
    },

    // Pages.
    {
      kind: "framing the dashboard from another site",
      path: "/",
      status: 200,
      header: ["content-security-policy", /frame-ancestors 'none'/],
      expect: "Content-Security-Policy: frame-ancestors 'none'",
    },
    {
      kind: "framing the dashboard (older browsers)",
      path: "/",
      status: 200,
      header: ["x-frame-options", /^DENY$/],
      expect: "X-Frame-Options: DENY",
    },
    {
      kind: "sign-in redirect to //evil.com (dashboard)",
      path: "/login?next=//evil.com",
      status: 200,
      says: /\\"next\\":\\"\/\\"/,
      expect: 'the sign-in form gets next "/"',
    },
    {
      kind: "sign-in redirect to /%09/evil.com (dashboard)",
      path: "/login?next=/%09/evil.com",
      status: 200,
      says: /\\"next\\":\\"\/\\"/,
      expect: 'the sign-in form gets next "/"',
    },
  ];
}

/** Against a dashboard that listens beyond its machine (RLHF_HOST=0.0.0.0) without public reading. */
export function exposedProbes(c: DashboardProbeContext): Probe[] {
  const strangerReads = (procedure: string, input: unknown): Probe => ({
    kind: `exposed, no public reading: a stranger calls ${procedure}`,
    ...call(procedure, input, undefined, "GET"),
    status: 401,
    says: /Sign in to read this workbench/,
    expect: "UNAUTHORIZED: sign in to read this workbench",
  });
  return [
    strangerReads("runs.list", undefined),
    strangerReads("runs.detail", { id: c.runId }),
    strangerReads("metrics.keys", { runIds: [c.runId] }),
    strangerReads("data.overview", undefined),
    strangerReads("launch.options", undefined),
    {
      kind: "exposed: a signed-in annotator reads the runs",
      ...call("runs.list", undefined, c.annotator, "GET"),
      status: 200,
      says: /probe-sft/,
      expect: "the runs (an account is enough)",
    },
  ];
}
