/**
 * Bad input to the labeler, each kind with the answer it must get: better-auth's endpoints as the app
 * mounts them, labeling (whose task it is, what an answer may hold), administration, imports, the export
 * route and the pages' headers. Sent by probe.test.ts to the production build; listed in
 * docs/reliability.md from this table.
 */
import type { Probe } from "@rlhf/core/testing/probes";

export interface LabelerProbeContext {
  /** Session cookies: an admin, and annotators Ann and Bo. */
  admin: string;
  ann: string;
  bo: string;
  datasetId: string;
  /** Ann's held pairwise task, and its two response ids. */
  taskId: string;
  completionIds: [string, string];
  /** A response of another task. */
  foreignCompletionId: string;
}

const BAD = 400;

/** A tRPC call as the apps' clients make it: mutations POST `{json}`, queries GET `?input=`. */
function call(procedure: string, input: unknown, cookie?: string, method: "POST" | "GET" = "POST") {
  const headers = cookie ? { cookie } : undefined;
  if (method === "GET") {
    const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
    return { path: `/api/trpc/${procedure}${query}`, headers };
  }
  return { path: `/api/trpc/${procedure}`, body: input === undefined ? {} : { json: input }, headers };
}

const auth = (route: string, body: unknown, headers: Record<string, string> = {}) => ({
  path: `/api/auth/${route}`,
  body,
  headers,
});

/** Probes that reach better-auth's sign-in: at most 3 per 10 s from one address, so sent apart. */
export function signInProbes(): Probe[] {
  return [
    {
      kind: "sign-in: a wrong password",
      ...auth("sign-in/email", { email: "ann@example.com", password: "wrong password" }),
      status: 401,
      says: /Invalid email or password/i,
      expect: "Invalid email or password",
    },
    {
      kind: "sign-in: an unknown email",
      ...auth("sign-in/email", { email: "nobody@example.com", password: "whatever1" }),
      status: 401,
      says: /Invalid email or password/i,
      expect: "Invalid email or password (the same words: no account is revealed)",
    },
    {
      kind: "sign-in: the email not a string",
      ...auth("sign-in/email", { email: 42, password: "whatever1" }),
      status: BAD,
      says: /email/i,
      expect: "names email",
    },
  ];
}

/** Four sign-ins, each claiming another X-Forwarded-For: the fourth is limited all the same. */
export const rotatingAddressProbe: Probe = {
  kind: "sign-in: a new X-Forwarded-For on every attempt (rate-limit bypass)",
  ...auth("sign-in/email", { email: "ann@example.com", password: "guess guess" }),
  repeat: 4,
  headersAt: (i) => ({ "x-forwarded-for": `203.0.113.${i + 1}` }),
  status: 429,
  says: /Too many requests/i,
  expect: "Too many requests on the 4th within 10 s: the address is the connection's, not the header's",
};

export function labelerProbes(c: LabelerProbeContext): Probe[] {
  const [a, b] = c.completionIds;
  const ownTask = (extra: Record<string, unknown>) => ({
    taskId: c.taskId,
    idempotencyKey: "probe-key-0001",
    ...extra,
  });
  const leakOf = new RegExp(`${a}|${b}`);
  const refusedToBo = (kind: string, answer: Record<string, unknown>): Probe => ({
    kind: `submit: Bo answers Ann's task (${kind})`,
    ...call(
      "labeling.submit",
      ownTask({ ...answer, idempotencyKey: `bo-${kind.replace(/\W+/g, "-")}` }),
      c.bo,
    ),
    status: 403,
    says: /not held for you/,
    never: leakOf,
    expect: "FORBIDDEN: not held for you; no response ids in the answer",
  });
  const asAnn = (kind: string, answer: Record<string, unknown>, says: RegExp, expect: string): Probe => ({
    kind: `submit: ${kind}`,
    ...call("labeling.submit", ownTask(answer), c.ann),
    status: BAD,
    says,
    expect: `BAD_REQUEST: ${expect}`,
  });
  const adminOnly = (procedure: string, input: unknown, method: "POST" | "GET" = "POST"): Probe => ({
    kind: `${procedure} by an annotator`,
    ...call(procedure, input, c.ann, method),
    status: 403,
    says: /Only an admin/,
    expect: "FORBIDDEN: only an admin",
  });
  const adminBad = (
    kind: string,
    procedure: string,
    input: unknown,
    says: RegExp,
    expect: string,
  ): Probe => ({
    kind: `${procedure}: ${kind}`,
    ...call(procedure, input, c.admin),
    status: BAD,
    says,
    expect: `BAD_REQUEST: ${expect}`,
  });
  const goodLine = JSON.stringify({ prompt: "p", responses: ["x", "y"] });
  const importing = (
    kind: string,
    text: unknown,
    says: RegExp,
    expect: string,
    dataset: unknown = "probe-import",
  ) => adminBad(kind, "admin.import", { dataset, text }, says, expect);

  return [
    // better-auth's endpoints, before and after the library.
    {
      kind: "sign-in: a NUL in the email",
      ...auth("sign-in/email", { email: "ann@example.com\u0000", password: "x" }),
      status: BAD,
      says: /email: contains a NUL/,
      expect: "email: contains a NUL character",
    },
    {
      kind: "sign-in: a NUL in the password",
      ...auth("sign-in/email", { email: "ann@example.com", password: "pass\u0000word" }),
      status: BAD,
      says: /password: contains a NUL/,
      expect: "password: contains a NUL character",
    },
    {
      kind: "sign-in: a 100 KB body",
      ...auth("sign-in/email", { email: "ann@example.com", password: "x".repeat(100_000) }),
      status: 413,
      says: /over the limit of 65536 bytes/,
      expect: "over the limit of 65536 bytes, before parsing",
    },
    {
      kind: "sign-in: from another site's page (Sec-Fetch-Site)",
      ...auth(
        "sign-in/email",
        { email: "ann@example.com", password: "x" },
        { "sec-fetch-site": "cross-site" },
      ),
      status: 403,
      says: /Cross-site request refused/,
      expect: "Cross-site request refused (login CSRF)",
    },
    {
      kind: "sign-in: from another site's page (Origin)",
      ...auth(
        "sign-in/email",
        { email: "ann@example.com", password: "x" },
        { origin: "https://evil.example" },
      ),
      status: 403,
      says: /Cross-site request refused/,
      expect: "Cross-site request refused",
    },
    {
      kind: "sign-up (accounts come from invitations)",
      ...auth("sign-up/email", { email: "new@example.com", password: "long enough", name: "New" }),
      status: BAD,
      says: /sign up is not enabled/i,
      expect: "sign up is not enabled",
    },
    {
      kind: "update-user without a session",
      ...auth("update-user", { name: "X" }),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "update-user: an empty name",
      ...auth("update-user", { name: "  " }, { cookie: c.ann }),
      status: BAD,
      says: /name: must not be empty/,
      expect: "name: must not be empty",
    },
    {
      kind: "update-user: a 101-character name",
      ...auth("update-user", { name: "n".repeat(101) }, { cookie: c.ann }),
      status: BAD,
      says: /name: at most 100 characters/,
      expect: "name: at most 100 characters",
    },
    {
      kind: "update-user: a 300 KB name",
      ...auth("update-user", { name: "n".repeat(300_000) }, { cookie: c.ann }),
      status: 413,
      says: /over the limit/,
      expect: "over the limit of 65536 bytes",
    },
    {
      kind: "update-user: a NUL in the name",
      ...auth("update-user", { name: "Ann\u0000" }, { cookie: c.ann }),
      status: BAD,
      says: /name: contains a NUL/,
      expect: "name: contains a NUL character",
    },
    {
      kind: "update-user: a 3,000-character image URL",
      ...auth("update-user", { image: `https://x.example/${"i".repeat(3000)}` }, { cookie: c.ann }),
      status: BAD,
      says: /image: at most 2048/,
      expect: "image: at most 2048 characters",
    },
    {
      kind: "update-user: changing the email",
      ...auth("update-user", { email: "other@example.com" }, { cookie: c.ann }),
      status: BAD,
      says: /email/i,
      expect: "the email cannot be updated",
    },
    {
      kind: "admin plugin: set-role by an annotator",
      ...auth("admin/set-role", { userId: "x", role: "admin" }, { cookie: c.ann }),
      status: 403,
      expect: "FORBIDDEN",
    },
    {
      kind: "admin plugin: create-user by an annotator",
      ...auth(
        "admin/create-user",
        { email: "e@example.com", password: "long enough", name: "E" },
        { cookie: c.ann },
      ),
      status: 403,
      expect: "FORBIDDEN",
    },
    {
      kind: "admin plugin: ban-user by an annotator",
      ...auth("admin/ban-user", { userId: "x" }, { cookie: c.ann }),
      status: 403,
      expect: "FORBIDDEN",
    },
    {
      kind: "admin plugin: impersonate-user by an annotator",
      ...auth("admin/impersonate-user", { userId: "x" }, { cookie: c.ann }),
      status: 403,
      expect: "FORBIDDEN",
    },
    {
      kind: "admin plugin: list-users without a session",
      path: "/api/auth/admin/list-users",
      status: 401,
      expect: "UNAUTHORIZED",
    },

    // Labeling: the next task.
    {
      kind: "labeling.next as a GET (it takes a lease)",
      ...call("labeling.next", { datasetId: c.datasetId }, c.ann, "GET"),
      status: 405,
      says: /METHOD_NOT_SUPPORTED/,
      expect: "METHOD_NOT_SUPPORTED: a mutation, POST only",
    },
    {
      kind: "labeling.next without a session",
      ...call("labeling.next", { datasetId: c.datasetId }),
      status: 401,
      says: /Sign in to do this/,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "labeling.next: datasetId not a UUID",
      ...call("labeling.next", { datasetId: "x" }, c.ann),
      status: BAD,
      says: /datasetId/,
      expect: "BAD_REQUEST naming datasetId",
    },
    {
      kind: "labeling.next: no input",
      ...call("labeling.next", undefined, c.ann),
      status: BAD,
      expect: "BAD_REQUEST",
    },
    {
      kind: "labeling.next from another site's page",
      ...call("labeling.next", { datasetId: c.datasetId }, c.ann),
      headers: { cookie: c.ann, "sec-fetch-site": "cross-site" },
      status: 403,
      says: /Cross-site request refused/,
      expect: "FORBIDDEN: cross-site",
    },

    // Labeling: whose task it is, before anything about the answer.
    refusedToBo("a full ranking", { ranking: [[a], [b]] }),
    refusedToBo("an empty ranking", { ranking: [] }),
    refusedToBo("a partial ranking", { ranking: [[a]] }),
    refusedToBo("a skip", { skipped: true }),
    refusedToBo("all bad", { allBad: true }),
    refusedToBo("a flag on one of its responses", { ranking: [[a], [b]], flags: { [a]: ["spam"] } }),
    {
      kind: "submit: an annotator claiming asAdmin",
      ...call(
        "labeling.submit",
        ownTask({ skipped: true, asAdmin: true, idempotencyKey: "bo-asadmin-0001" }),
        c.bo,
      ),
      status: 403,
      says: /asAdmin: only an admin/,
      never: leakOf,
      expect: "FORBIDDEN: asAdmin: only an admin",
    },
    {
      kind: "submit: a task that does not exist",
      ...call(
        "labeling.submit",
        ownTask({ taskId: "00000000-0000-4000-8000-000000000000", skipped: true }),
        c.ann,
      ),
      status: 404,
      says: /does not exist/,
      expect: "NOT_FOUND",
    },
    {
      kind: "submit without a session",
      ...call("labeling.submit", ownTask({ skipped: true })),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "submit from another site's page",
      ...call("labeling.submit", ownTask({ skipped: true })),
      headers: { cookie: c.ann, origin: "https://evil.example" },
      status: 403,
      says: /Cross-site/,
      expect: "FORBIDDEN: cross-site",
    },

    // Labeling: what an answer may hold (the holder's own task).
    asAnn(
      "an empty ranking",
      { ranking: [] },
      /ranking leaves out 2 of the task's 2 responses/,
      "ranking leaves out … (their own task's ids)",
    ),
    asAnn(
      "a ranking naming another task's response",
      { ranking: [[a], [c.foreignCompletionId]] },
      /not one of this task's responses/,
      "not one of this task's responses",
    ),
    asAnn(
      "a response listed twice",
      { ranking: [[a], [a]] },
      /lists response .* twice/,
      "lists response … twice",
    ),
    asAnn(
      "an empty group",
      { ranking: [[a, b], []] },
      /group must not be empty/,
      "a group must not be empty",
    ),
    asAnn("a ranking that is a string", { ranking: "a>b" }, /ranking/, "names ranking"),
    asAnn("a ranking of numbers", { ranking: [[1], [2]] }, /ranking/, "names ranking"),
    asAnn(
      "skipped and all bad at once",
      { skipped: true, allBad: true },
      /either skipped or all bad/,
      "either skipped or all bad, not both",
    ),
    asAnn(
      "a skip with a ranking",
      { skipped: true, ranking: [[a], [b]] },
      /orders nothing/,
      "a skipped answer orders nothing",
    ),
    asAnn("no ranking, not skipped", {}, /order the responses/, "order the responses, or skip"),
    asAnn("a strength of 3", { ranking: [[a], [b]], strength: 3 }, /strength/, "names strength"),
    asAnn(
      "a strength on a tie",
      { ranking: [[a, b]], strength: 2 },
      /pairwise answer with a winner/,
      "strength: only a pairwise answer with a winner",
    ),
    asAnn("an unknown flag", { ranking: [[a], [b]], flags: { [a]: ["rude"] } }, /flags/, "names flags"),
    asAnn(
      "a flag on another task's response",
      { ranking: [[a], [b]], flags: { [c.foreignCompletionId]: ["spam"] } },
      /flags: response .* not one of this task's/,
      "flags: not one of this task's responses",
    ),
    asAnn(
      "the same flag twice",
      { ranking: [[a], [b]], flags: { [a]: ["spam", "spam"] } },
      /flag twice/,
      "a flag twice",
    ),
    asAnn(
      "a 4,001-character note",
      { ranking: [[a], [b]], note: "n".repeat(4001) },
      /at most 4000 characters/,
      "a note is at most 4000 characters",
    ),
    asAnn(
      "a NUL in the note",
      { ranking: [[a], [b]], note: "fine\u0000" },
      /note: contains a NUL/,
      "note: contains a NUL character",
    ),
    asAnn("a negative timeMs", { ranking: [[a], [b]], timeMs: -1 }, /timeMs/, "names timeMs"),
    asAnn("a timeMs of 1e20", { ranking: [[a], [b]], timeMs: 1e20 }, /timeMs/, "names timeMs"),
    asAnn(
      "a 7-character idempotency key",
      { ranking: [[a], [b]], idempotencyKey: "short12" },
      /idempotencyKey/,
      "names idempotencyKey",
    ),
    asAnn(
      "a 101-character idempotency key",
      { ranking: [[a], [b]], idempotencyKey: "k".repeat(101) },
      /idempotencyKey/,
      "names idempotencyKey",
    ),
    asAnn("taskId not a UUID", { taskId: "task-1", skipped: true }, /taskId/, "names taskId"),
    asAnn("nextIn not a UUID", { ranking: [[a], [b]], nextIn: "next" }, /nextIn/, "names nextIn"),
    asAnn(
      "a NUL in a flag's key",
      { ranking: [[a], [b]], flags: { "x\u0000": ["spam"] } },
      /flags\.x\\\\u0000: contains a NUL/,
      "flags.<key>: contains a NUL character",
    ),
    {
      kind: "release: taskId not a UUID",
      ...call("labeling.release", { taskId: "x" }, c.ann),
      status: BAD,
      says: /taskId/,
      expect: "BAD_REQUEST naming taskId",
    },
    {
      kind: "own: a task the annotator did not answer",
      ...call("labeling.own", { taskId: c.taskId }, c.bo, "GET"),
      status: 404,
      says: /you have not answered this task/,
      never: leakOf,
      expect: "NOT_FOUND: you have not answered this task",
    },
    {
      kind: "progress: a UTC offset of 100,000 minutes",
      ...call("labeling.progress", { datasetId: c.datasetId, utcOffsetMinutes: 100_000 }, c.ann, "GET"),
      status: BAD,
      says: /utcOffsetMinutes/,
      expect: "BAD_REQUEST naming utcOffsetMinutes",
    },
    {
      kind: "mine without a session",
      ...call("labeling.mine", undefined, undefined, "GET"),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "undo without a session",
      ...call("labeling.undo", undefined),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "datasets.list without a session",
      ...call("datasets.list", undefined, undefined, "GET"),
      status: 401,
      expect: "UNAUTHORIZED",
    },

    // Administration: only admins.
    adminOnly("admin.overview", undefined, "GET"),
    adminOnly("admin.dataset", { datasetId: c.datasetId }, "GET"),
    adminOnly("admin.updateDataset", { datasetId: c.datasetId, requiredRankings: 3 }),
    adminOnly("admin.import", { dataset: "x", text: goodLine }),
    adminOnly("admin.generationSources", undefined, "GET"),
    adminOnly("admin.generate", { runId: c.datasetId, prompts: "p", dataset: "d" }),
    adminOnly("admin.users", undefined, "GET"),
    adminOnly("admin.invite", { email: "x@example.com" }),
    adminOnly("admin.revokeInvite", { id: "x" }),
    adminOnly("admin.updateUser", { id: "x", role: "admin" }),
    {
      kind: "admin.overview without a session",
      ...call("admin.overview", undefined, undefined, "GET"),
      status: 401,
      expect: "UNAUTHORIZED",
    },
    {
      kind: "admin.import without a session",
      ...call("admin.import", { dataset: "x", text: goodLine }),
      status: 401,
      expect: "UNAUTHORIZED",
    },

    // Imports: all or nothing, each bad line with its field.
    importing("an empty file", "", /the file is empty/, "the file is empty"),
    importing(
      "a line that is not JSON",
      `${goodLine}\n{prompt:`,
      /line 2: \(line\): not valid JSON/,
      "line 2: not valid JSON",
    ),
    importing("a line that is not an object", `${goodLine}\n[1,2]`, /line 2/, "line 2: not an object"),
    importing(
      "one response",
      JSON.stringify({ prompt: "p", responses: ["only"] }),
      /line 1: responses: needs at least 2 responses/,
      "line 1: responses: needs at least 2",
    ),
    importing(
      "ten responses",
      JSON.stringify({ prompt: "p", responses: Array.from({ length: 10 }, (_, i) => `r${i}`) }),
      /line 1: responses/,
      "line 1: responses: at most 9",
    ),
    importing(
      "an empty prompt",
      JSON.stringify({ prompt: "", responses: ["a", "b"] }),
      /line 1: prompt/,
      "line 1: prompt: must not be empty",
    ),
    importing(
      "a NUL in the prompt",
      JSON.stringify({ prompt: "p\u0000", responses: ["a", "b"] }),
      /line 1: prompt: contains a NUL/,
      "line 1: prompt: contains a NUL character",
    ),
    importing(
      "a NUL in a response",
      JSON.stringify({ prompt: "p", responses: ["a", "b\u0000"] }),
      /line 1: responses\.1: contains a NUL/,
      "line 1: responses.1: contains a NUL character",
    ),
    importing(
      "a NUL in metadata",
      JSON.stringify({ prompt: "p", responses: ["a", "b"], metadata: { k: "\u0000" } }),
      /line 1: metadata\.k: contains a NUL/,
      "line 1: metadata.k: contains a NUL character",
    ),
    importing(
      "a NUL in a TRL pair",
      JSON.stringify({ prompt: "p", chosen: "c", rejected: "r\u0000" }),
      /line 1: rejected: contains a NUL/,
      "line 1: rejected: contains a NUL character",
    ),
    importing(
      "a NUL in a prompts file",
      JSON.stringify({ prompt: "p\u0000" }),
      /line 1: prompt: contains a NUL/,
      "line 1: prompt: contains a NUL character",
    ),
    importing(
      "a gold ranking out of range",
      JSON.stringify({ prompt: "p", responses: ["a", "b"], gold: [[0], [5]] }),
      /line 1: gold/,
      "line 1: gold: names a response that is not there",
    ),
    importing(
      "a name with a space",
      goodLine,
      /dataset: use 1 to 100 letters/,
      "dataset: use 1 to 100 letters, digits and . _ - : @",
      "has space",
    ),
    importing(
      "a NUL in the name",
      goodLine,
      /dataset: contains a NUL/,
      "dataset: contains a NUL character",
      "name\u0000",
    ),
    importing("an empty name", goodLine, /name the dataset/, "name the dataset", ""),
    importing(
      "a prompts file into a preferences dataset",
      JSON.stringify({ prompt: "p" }),
      /holds preferences/,
      "dataset holds preferences; this file holds prompts",
      "probe-prefs",
    ),
    adminBad(
      "requiredRankings 0",
      "admin.import",
      { dataset: "x", text: goodLine, requiredRankings: 0 },
      /requiredRankings/,
      "names requiredRankings",
    ),
    adminBad(
      "a 501-character description",
      "admin.import",
      { dataset: "x", text: goodLine, description: "d".repeat(501) },
      /description/,
      "names description",
    ),
    adminBad("text not a string", "admin.import", { dataset: "x", text: 5 }, /text/, "names text"),

    // Administration: other settings.
    adminBad(
      "an unknown run",
      "admin.generate",
      { runId: "00000000-0000-4000-8000-000000000000", prompts: "demo-prompts", dataset: "g" },
      /matches no run/,
      "run:<id> matches no run",
    ),
    adminBad(
      "runId not a UUID",
      "admin.generate",
      { runId: "x", prompts: "p", dataset: "d" },
      /runId/,
      "names runId",
    ),
    {
      kind: "admin.updateDataset: an unknown dataset",
      ...call(
        "admin.updateDataset",
        { datasetId: "00000000-0000-4000-8000-000000000000", requiredRankings: 2 },
        c.admin,
      ),
      status: 404,
      says: /datasetId: no dataset/,
      expect: "NOT_FOUND: datasetId: no dataset …",
    },
    adminBad(
      "requiredRankings 0",
      "admin.updateDataset",
      { datasetId: c.datasetId, requiredRankings: 0 },
      /requiredRankings/,
      "names requiredRankings",
    ),
    adminBad(
      "goldFraction 2",
      "admin.updateDataset",
      { datasetId: c.datasetId, goldFraction: 2 },
      /goldFraction/,
      "names goldFraction",
    ),
    {
      kind: "admin.dataset: an unknown dataset",
      ...call("admin.dataset", { datasetId: "00000000-0000-4000-8000-000000000000" }, c.admin, "GET"),
      status: 404,
      says: /no such dataset/,
      expect: "NOT_FOUND",
    },
    adminBad(
      "a 300-character email",
      "admin.invite",
      { email: `${"e".repeat(290)}@example.com` },
      /email: at most 254 characters/,
      "email: at most 254 characters",
    ),
    adminBad(
      "a 1.1 MB email",
      "admin.invite",
      { email: `${"e".repeat(1_100_000)}@example.com` },
      /email: at most 254 characters/,
      "email: at most 254 characters",
    ),
    adminBad(
      "not an email",
      "admin.invite",
      { email: "not-an-email" },
      /email: must be an email address/,
      "email: must be an email address",
    ),
    adminBad(
      "a NUL in the email",
      "admin.invite",
      { email: "a\u0000@example.com" },
      /email: contains a NUL/,
      "email: contains a NUL character",
    ),
    adminBad(
      "an unknown role",
      "admin.invite",
      { email: "r@example.com", role: "owner" },
      /role/,
      "names role",
    ),
    adminBad("an unknown role", "admin.updateUser", { id: "x", role: "owner" }, /role/, "names role"),

    // First start and invitations (open to visitors).
    {
      kind: "account.setup once an admin exists",
      ...call("account.setup", { email: "second@example.com", name: "Second", password: "long enough" }),
      status: BAD,
      says: /already/i,
      expect: "BAD_REQUEST: there is already an admin",
    },
    {
      kind: "account.setup: not an email",
      ...call("account.setup", { email: "x", name: "X", password: "long enough" }),
      status: BAD,
      says: /email/,
      expect: "names email",
    },
    {
      kind: "account.setup: a 7-character password",
      ...call("account.setup", { email: "s@example.com", name: "S", password: "short12" }),
      status: BAD,
      says: /password/,
      expect: "names password",
    },
    {
      kind: "account.setup from another site's page",
      ...call("account.setup", { email: "s@example.com", name: "S", password: "long enough" }),
      headers: { origin: "https://evil.example" },
      status: 403,
      says: /Cross-site/,
      expect: "FORBIDDEN: cross-site",
    },
    {
      kind: "account.acceptInvite: an unknown token",
      ...call("account.acceptInvite", { token: "t".repeat(40), name: "N", password: "long enough" }),
      status: BAD,
      says: /invitation/i,
      expect: "BAD_REQUEST: no such invitation",
    },
    {
      kind: "account.acceptInvite: a 5-character token",
      ...call("account.acceptInvite", { token: "short", name: "N", password: "long enough" }),
      status: BAD,
      says: /token/,
      expect: "names token",
    },
    {
      kind: "account.acceptInvite: an empty name",
      ...call("account.acceptInvite", { token: "t".repeat(40), name: " ", password: "long enough" }),
      status: BAD,
      says: /name/,
      expect: "names name",
    },
    {
      kind: "account.invitation: a 300-character token",
      ...call("account.invitation", { token: "t".repeat(300) }, undefined, "GET"),
      status: BAD,
      says: /token/,
      expect: "names token",
    },

    // tRPC itself.
    {
      kind: "a batch of 65 calls",
      path: `/api/trpc/${Array(65).fill("account.me").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`,
      status: BAD,
      says: /batch/i,
      expect: "BAD_REQUEST: batch too large (at most 64)",
    },
    {
      kind: "an unknown procedure",
      ...call("labeling.steal", {}, c.ann),
      status: 404,
      says: /No procedure/i,
      expect: "NOT_FOUND",
    },
    {
      kind: "a body that is not JSON",
      path: "/api/trpc/labeling.submit",
      body: "{json:",
      headers: { cookie: c.ann },
      status: BAD,
      expect: "BAD_REQUEST: could not parse the body",
    },
    {
      kind: "a 2 MB body from someone not signed in",
      ...call("account.setup", { email: "s@example.com", name: "S", password: "x".repeat(2_000_000) }),
      status: 413,
      says: /over the limit of 1048576 bytes/,
      expect: "PAYLOAD_TOO_LARGE, before parsing",
    },
    {
      kind: "a key holding a NUL",
      ...call("labeling.progress", { datasetId: c.datasetId, "utc\u0000": 1 }, c.ann, "GET"),
      status: BAD,
      says: /contains a NUL/,
      expect: "BAD_REQUEST: <key>: contains a NUL character",
    },

    // The export route.
    {
      kind: "export without a session",
      path: "/api/export?dataset=x&format=trl",
      status: 401,
      expect: "Sign in to do this",
    },
    {
      kind: "export by an annotator",
      path: "/api/export?dataset=x&format=trl",
      headers: { cookie: c.ann },
      status: 403,
      expect: "Only an admin can do this",
    },
    {
      kind: "export: an unknown format",
      path: "/api/export?dataset=x&format=csv",
      headers: { cookie: c.admin },
      status: BAD,
      says: /format must be one of/,
      expect: "format must be one of trl, trl-conversational, rankings",
    },
    {
      kind: "export: an unknown dataset",
      path: "/api/export?dataset=no-such&format=rankings",
      headers: { cookie: c.admin },
      status: 404,
      says: /does not exist/,
      expect: "dataset … does not exist",
    },

    // Pages.
    {
      kind: "framing the labeler from another site",
      path: "/login",
      status: 200,
      header: ["content-security-policy", /frame-ancestors 'none'/],
      expect: "Content-Security-Policy: frame-ancestors 'none'",
    },
    {
      kind: "framing the labeler (older browsers)",
      path: "/login",
      status: 200,
      header: ["x-frame-options", /^DENY$/],
      expect: "X-Frame-Options: DENY",
    },
    ...["%09", "%0A", "%0D", "%5C", "%09%0A"].map(
      (stripped): Probe => ({
        kind: `sign-in redirect to /${stripped}/evil.com`,
        path: `/login?next=/${stripped}/evil.com`,
        status: 200,
        // The page hands its sign-in form `next`: "/" (the URL itself is echoed in the router's state).
        says: /\\"next\\":\\"\/\\"/,
        never: /\\"next\\":\\"[^"\\]*evil/,
        expect: 'the sign-in form gets next "/"',
      }),
    ),
  ];
}
