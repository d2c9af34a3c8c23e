/**
 * Metrics from anywhere: a run trained outside the workbench (a TRL or OpenRLHF script, say) creates an
 * `external` run and sends metrics, samples and log lines, the way W&B's client does. The dashboard's
 * `POST /api/ingest` and `rlhf log` both call `ingest()`; the payload is `ingestPayloadSchema`
 * (docs/jobs.md has examples in Python and curl). Tokens are `rlhf_…` strings of which only a SHA-256
 * hash is stored (`api_tokens`).
 */
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, isNull, or, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import { z } from "zod";
import type { Database } from "../db/open";
import { apiTokens, type RunStatus, runs } from "../db/schema";
import { nulMessage, nulPath } from "../nul";
import { isUuid, RUN_NAME_MAX, runNameProblem } from "../queue/refs";
import { transaction } from "../queue/tx";
import { type MetricPoint, writeMetricPoints } from "../series/rollups";

/** Seconds since the epoch (Python's `time.time()`) or an ISO 8601 timestamp. */
const timeSchema = z
  .union([
    z
      .number()
      .positive()
      // 9999-12-31: a later time is no date a database (or JavaScript) holds, and surely not seconds.
      .max(253_402_300_799, "seconds since the epoch, at most 253402300799 (the year 9999)"),
    z.iso.datetime({ offset: true }),
  ])
  .optional()
  .describe("when it happened: seconds since the epoch, or an ISO 8601 timestamp (default: when received)");

const stepSchema = z.number().int().min(0).describe("training step (the x of the curve)");

export const ingestPayloadSchema = z
  .object({
    run: z
      .object({
        id: z
          .uuid()
          .optional()
          .describe("the run's id; a new id creates the run with it (generate one with uuid4 and reuse it)"),
        name: z
          .string()
          .trim()
          .min(1)
          .max(RUN_NAME_MAX)
          .superRefine((name, ctx) => {
            const problem = runNameProblem(name);
            if (problem) ctx.addIssue({ code: "custom", message: `run name ${problem}` });
          })
          .optional()
          .describe(
            "the run's name (not a UUID); without an id, the newest external run of this name (created if none)",
          ),
        config: z
          .record(z.string(), z.unknown())
          .optional()
          .describe("hyperparameters, shown with the run (stored when the run is created or given again)"),
        status: z
          .enum(["running", "succeeded", "failed", "cancelled"])
          .optional()
          .describe("set the run's status; a final one also sets its end time"),
        error: z.string().max(20_000).optional().describe("why it failed, with status failed"),
        totalSteps: z.number().int().min(0).optional().describe("steps the run will take (for progress)"),
        summary: z
          .record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]))
          .optional()
          .describe("final figures of the run, merged into its summary"),
      })
      .refine((run) => run.id !== undefined || run.name !== undefined, {
        message: "give the run's id or its name",
      }),
    metrics: z
      .array(
        z.object({
          step: stepSchema,
          values: z
            .record(z.string().min(1).max(200), z.number())
            .describe('metric key → value, e.g. {"loss": 0.52, "objective/kl": 0.03}'),
          time: timeSchema,
        }),
      )
      .max(10_000)
      .default([])
      .describe("metric points; a (key, step) sent again replaces the earlier value"),
    samples: z
      .array(
        z.object({
          step: stepSchema,
          prompt: z.string().max(100_000),
          response: z.string().max(100_000),
          reward: z.number().nullable().optional(),
          kl: z.number().nullable().optional(),
          extra: z.record(z.string(), z.unknown()).optional(),
        }),
      )
      .max(1000)
      .default([])
      .describe("generations to show with the run"),
    logs: z
      .array(
        z.object({
          message: z.string().max(20_000),
          level: z.enum(["debug", "info", "warn", "error"]).default("info"),
          time: timeSchema,
        }),
      )
      .max(1000)
      .default([])
      .describe("log lines"),
  })
  .refine((p) => p.metrics.reduce((n, m) => n + Object.keys(m.values).length, 0) <= 100_000, {
    message: "at most 100,000 metric values per request; send more requests",
    path: ["metrics"],
  });

export type IngestPayload = z.input<typeof ingestPayloadSchema>;

export interface IngestResult {
  runId: string;
  name: string;
  status: RunStatus;
  created: boolean;
  written: { metrics: number; samples: number; logs: number };
  /** Someone pressed stop on the dashboard (or ran `rlhf runs cancel`): the script should wind down. */
  cancelRequested: boolean;
}

/** A refused request; `status` is the HTTP status the ingest route answers with. */
export class IngestError extends Error {
  override name = "IngestError";
  constructor(
    readonly status: 400 | 401 | 404 | 409,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export interface IngestAuth {
  /** The token, or the whole `Authorization` header (`Bearer rlhf_…`). */
  token?: string | null;
  /** Skip the token check: the caller already has the database (`rlhf log` on a machine that reaches it). */
  trusted?: boolean;
}

/** Write one payload: find or create the external run, then its metrics, samples and logs, in one transaction. */
export async function ingest(database: Database, body: unknown, auth: IngestAuth): Promise<IngestResult> {
  if (!auth.trusted) await authenticateToken(database, auth.token);
  const nul = nulPath(body);
  if (nul !== undefined)
    throw new IngestError(400, nulMessage(nul), [{ path: nul, message: nulMessage(nul) }]);
  const parsed = ingestPayloadSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new IngestError(
      400,
      `invalid ingest payload:\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`,
      issues,
    );
  }
  const payload = parsed.data;
  const maxStep = Math.max(-1, ...payload.metrics.map((m) => m.step), ...payload.samples.map((s) => s.step));

  return transaction(database, async ({ db, client }) => {
    // 1. The run.
    const want = payload.run;
    let [run] = want.id
      ? await db.select().from(runs).where(eq(runs.id, want.id)).for("update")
      : await db
          .select()
          .from(runs)
          .where(and(eq(runs.name, want.name!), eq(runs.kind, "external")))
          .orderBy(desc(runs.createdAt))
          .limit(1)
          .for("update");
    if (run && run.kind !== "external") {
      throw new IngestError(
        409,
        `run ${run.name} is a ${run.kind} run of the workbench; only external runs take ingested data`,
      );
    }
    const created = !run;
    const final = want.status && want.status !== "running";
    if (!run) {
      [run] = await db
        .insert(runs)
        .values({
          ...(want.id ? { id: want.id } : {}),
          name: want.name ?? `external-${(want.id ?? "").slice(0, 8)}`,
          kind: "external",
          status: want.status ?? "running",
          config: want.config ?? {},
          startedAt: sql`now()`,
          heartbeatAt: sql`now()`,
          ...(final ? { finishedAt: sql`now()` } : {}),
        })
        .returning();
    }
    const update: PgUpdateSetSource<typeof runs> = { heartbeatAt: sql`now()` };
    if (!created && want.config) update.config = want.config;
    if (!created && want.status) {
      update.status = want.status;
      update.finishedAt = final ? sql`now()` : null;
    }
    if (want.name && want.id && !created) update.name = want.name;
    if (want.error !== undefined) update.error = want.error;
    if (want.totalSteps !== undefined) update.totalSteps = want.totalSteps;
    if (maxStep >= 0) update.step = sql`greatest(${runs.step}, ${maxStep})`;
    if (want.summary) update.summary = sql`${runs.summary} || ${JSON.stringify(want.summary)}::jsonb`;
    [run] = await db.update(runs).set(update).where(eq(runs.id, run!.id)).returning();

    // 2. Telemetry. Metrics go through the trainers' writer (`writeMetricPoints`): the same upsert — a
    // resent point replaces — with the chart rollups computed from the points in hand rather than rebuilt
    // point by point by the table's triggers. Samples and logs, one statement each.
    const points = new Map<string, MetricPoint>();
    for (const m of payload.metrics) {
      const wallTime = toDate(m.time);
      for (const [key, value] of Object.entries(m.values))
        points.set(`${key}\u0000${m.step}`, { key, step: m.step, value, wallTime });
    }
    if (points.size > 0) await writeMetricPoints(client, run!.id, [...points.values()]);
    if (payload.samples.length > 0) {
      const s = payload.samples;
      await client.query(
        `insert into samples (run_id, step, prompt, response, reward, kl, extra)
         select $1, * from unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::jsonb[])`,
        [
          run!.id,
          s.map((x) => x.step),
          s.map((x) => x.prompt),
          s.map((x) => x.response),
          s.map((x) => x.reward ?? null),
          s.map((x) => x.kl ?? null),
          s.map((x) => JSON.stringify(x.extra ?? {})),
        ],
      );
    }
    if (payload.logs.length > 0) {
      const l = payload.logs;
      await client.query(
        `insert into run_logs (run_id, level, message, ts)
         select $1, * from unnest($2::text[], $3::text[], $4::timestamptz[])`,
        [run!.id, l.map((x) => x.level), l.map((x) => x.message), l.map((x) => toDate(x.time))],
      );
    }

    return {
      runId: run!.id,
      name: run!.name,
      status: run!.status,
      created,
      written: { metrics: points.size, samples: payload.samples.length, logs: payload.logs.length },
      cancelRequested: run!.cancelRequestedAt !== null,
    };
  });
}

function toDate(time: number | string | undefined): Date {
  if (time === undefined) return new Date();
  return typeof time === "number" ? new Date(time * 1000) : new Date(time);
}

// ---------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------

const TOKEN_PREFIX = "rlhf_";

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A new ingest token. The token itself is returned once and never stored. */
export async function createApiToken(
  database: Database,
  options: { name: string; userId?: string },
): Promise<{ id: string; name: string; token: string }> {
  const token = `${TOKEN_PREFIX}${randomBytes(24).toString("base64url")}`;
  const [row] = await database.db
    .insert(apiTokens)
    .values({ name: options.name, tokenHash: hashToken(token), userId: options.userId ?? null })
    .returning();
  return { id: row!.id, name: row!.name, token };
}

export async function listApiTokens(database: Database) {
  return database.db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .orderBy(desc(apiTokens.createdAt));
}

/** Revoke by id or name; returns how many tokens were revoked. */
export async function revokeApiToken(database: Database, ref: string): Promise<number> {
  const rows = await database.db
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        isUuid(ref) ? or(eq(apiTokens.id, ref), eq(apiTokens.name, ref)) : eq(apiTokens.name, ref),
        isNull(apiTokens.revokedAt),
      ),
    )
    .returning({ id: apiTokens.id });
  return rows.length;
}

/** The token's row, or a 401 IngestError. Accepts the bare token or an `Authorization: Bearer …` header. */
export async function authenticateToken(database: Database, header: string | null | undefined) {
  const token = header?.replace(/^Bearer(\s+|$)/i, "").trim();
  if (!token)
    throw new IngestError(
      401,
      "missing token: send Authorization: Bearer rlhf_… (create one with `pnpm rlhf tokens create`)",
    );
  const [row] = await database.db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id, name: apiTokens.name, userId: apiTokens.userId });
  if (!row) throw new IngestError(401, "unknown or revoked token");
  return row;
}
