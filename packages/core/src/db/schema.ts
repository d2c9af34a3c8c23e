/**
 * The workbench's data model. PostgreSQL is the only shared state: labels, runs, metrics, samples,
 * job state and checkpoint records all live here (see docs/architecture.md).
 *
 * Users, sessions, accounts and verifications follow the table shapes of better-auth's drizzle adapter
 * (with its admin plugin's `role`/`banned` columns), so the auth library can own them without a
 * second user table.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { LOCALES, type Locale } from "../locales";

export const USER_ROLES = ["admin", "annotator"] as const;
export const DATASET_KINDS = ["text", "sft", "prompts", "preferences"] as const;
export const RUN_KINDS = [
  "pretrain",
  "sft",
  "reward",
  "ppo",
  "dpo",
  "grpo",
  "rloo",
  "generate",
  "serve",
  "external",
] as const;
export const RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const RESPONSE_FLAGS = ["spam", "harmful", "wrong_language", "fails_task"] as const;

export type UserRole = (typeof USER_ROLES)[number];
export type DatasetKind = (typeof DATASET_KINDS)[number];
export type RunKind = (typeof RUN_KINDS)[number];
export type RunStatus = (typeof RUN_STATUSES)[number];

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

/** `col IN ('a', 'b')` for a check constraint over a fixed vocabulary. */
const oneOf = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(", ")})`);

// ---------------------------------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------------------------------

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    email: text("email").notNull().unique(),
    emailVerified: boolean("email_verified").notNull().default(false),
    image: text("image"),
    role: text("role").$type<UserRole>().notNull().default("annotator"),
    banned: boolean("banned").notNull().default(false),
    banReason: text("ban_reason"),
    banExpires: timestamp("ban_expires", { withTimezone: true }),
    /** The language the person chose in the apps (null: the browser's). */
    locale: text("locale").$type<Locale>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  () => [
    check("users_role_check", oneOf("role", USER_ROLES)),
    check("users_locale_check", oneOf("locale", LOCALES)),
  ],
);

export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    token: text("token").notNull().unique(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    impersonatedBy: text("impersonated_by"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

export const accounts = pgTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    providerId: text("provider_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    accessToken: text("access_token"),
    refreshToken: text("refresh_token"),
    idToken: text("id_token"),
    accessTokenExpiresAt: timestamp("access_token_expires_at", { withTimezone: true }),
    refreshTokenExpiresAt: timestamp("refresh_token_expires_at", { withTimezone: true }),
    scope: text("scope"),
    password: text("password"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("accounts_user_idx").on(t.userId)],
);

export const verifications = pgTable("verifications", {
  id: text("id").primaryKey(),
  identifier: text("identifier").notNull(),
  value: text("value").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Tokens for the metrics ingest endpoint (runs trained elsewhere report here). Only the hash is kept. */
export const apiTokens = pgTable("api_tokens", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
  lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
  revokedAt: timestamp("revoked_at", { withTimezone: true }),
});

// ---------------------------------------------------------------------------------------------------
// Data: datasets, examples, completions, comparison tasks, rankings
// ---------------------------------------------------------------------------------------------------

export const datasets = pgTable(
  "datasets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull().unique(),
    kind: text("kind").$type<DatasetKind>().notNull(),
    description: text("description").notNull().default(""),
    /** Rankings each comparison task of this dataset needs before it counts as complete (Argilla's min_submitted). */
    requiredRankings: integer("required_rankings").notNull().default(1),
    /** Where the data came from: "demo", "import:<file>", "run:<id>"... */
    source: text("source").notNull().default("import"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    check("datasets_kind_check", oneOf("kind", DATASET_KINDS)),
    check("datasets_required_rankings_check", sql`${t.requiredRankings} between 1 and 100`),
  ],
);

/** A text of a corpus (`text`), or a prompt with its reference response (`prompt` + `response`, SFT). */
export const examples = pgTable(
  "examples",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    /** Position in the dataset; stable order for reproducible data loading. */
    idx: integer("idx").notNull(),
    split: text("split").notNull().default("train"),
    text: text("text"),
    prompt: text("prompt"),
    response: text("response"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    unique("examples_dataset_idx_unique").on(t.datasetId, t.idx),
    index("examples_dataset_split_idx").on(t.datasetId, t.split, t.idx),
    check("examples_split_check", oneOf("split", ["train", "eval"])),
    check("examples_content_check", sql`${t.text} is not null or ${t.prompt} is not null`),
  ],
);

export const runs = pgTable(
  "runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    kind: text("kind").$type<RunKind>().notNull(),
    status: text("status").$type<RunStatus>().notNull().default("queued"),
    /** The validated job config (the zod schema of `kind` in @rlhf/core/configs). */
    config: jsonb("config").$type<Record<string, unknown>>().notNull(),
    /** Runs launched together (the demo pipeline, say) share a pipeline id. */
    pipelineId: uuid("pipeline_id"),
    /** The pg-boss job that runs this run (null for external runs). */
    jobId: text("job_id"),
    workerId: text("worker_id"),
    workerHost: text("worker_host"),
    backend: text("backend"),
    device: text("device"),
    step: bigint("step", { mode: "number" }).notNull().default(0),
    totalSteps: bigint("total_steps", { mode: "number" }),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    logTail: text("log_tail"),
    /** Why a run was asked to stop: set by a cancel, read by the job between steps. */
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true }),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
    createdAt: createdAt(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    summary: jsonb("summary").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    check("runs_kind_check", oneOf("kind", RUN_KINDS)),
    check("runs_status_check", oneOf("status", RUN_STATUSES)),
    check("runs_step_check", sql`${t.step} >= 0`),
    check("runs_attempts_check", sql`${t.attempts} >= 0`),
    index("runs_status_idx").on(t.status, t.createdAt),
    index("runs_created_idx").on(t.createdAt),
    index("runs_pipeline_idx").on(t.pipelineId),
  ],
);

/** The edges of a pipeline: `runId` consumes what `parentRunId` produced (a checkpoint, completions...). */
export const runInputs = pgTable(
  "run_inputs",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    parentRunId: uuid("parent_run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "restrict" }),
    /** What the parent provides: "checkpoint", "reward_model", "reference", "completions"... */
    role: text("role").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.parentRunId, t.role] }),
    index("run_inputs_parent_idx").on(t.parentRunId),
    check("run_inputs_no_self_check", sql`${t.runId} <> ${t.parentRunId}`),
  ],
);

export const checkpoints = pgTable(
  "checkpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    step: bigint("step", { mode: "number" }).notNull(),
    /** Directory with config.json + model.safetensors + tokenizer.json (+ training state). */
    path: text("path").notNull(),
    isFinal: boolean("is_final").notNull().default(false),
    metrics: jsonb("metrics").$type<Record<string, number>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    unique("checkpoints_run_step_unique").on(t.runId, t.step),
    check("checkpoints_step_check", sql`${t.step} >= 0`),
  ],
);

/** A response to a prompt, imported or generated by a run's checkpoint. */
export const completions = pgTable(
  "completions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    prompt: text("prompt").notNull(),
    response: text("response").notNull(),
    /** The model or person that wrote it: a model name, "human", or "run:<name>@<step>". */
    source: text("source").notNull(),
    runId: uuid("run_id").references(() => runs.id, { onDelete: "set null" }),
    checkpointId: uuid("checkpoint_id").references(() => checkpoints.id, { onDelete: "set null" }),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index("completions_source_idx").on(t.source), index("completions_run_idx").on(t.runId)],
);

/** One prompt with 2..9 completions to rank. */
export const comparisonTasks = pgTable(
  "comparison_tasks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    prompt: text("prompt").notNull(),
    /** Rankings needed before the task is complete; defaults from the dataset. */
    requiredRankings: integer("required_rankings").notNull().default(1),
    /** Number of rankings submitted so far (kept by the submission transaction). */
    rankingCount: integer("ranking_count").notNull().default(0),
    /** A gold task's known answer: the ranking (groups of completion ids, best first). */
    goldRanking: jsonb("gold_ranking").$type<string[][]>(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    check("comparison_tasks_required_check", sql`${t.requiredRankings} between 1 and 100`),
    check("comparison_tasks_count_check", sql`${t.rankingCount} >= 0`),
    index("comparison_tasks_dataset_idx").on(t.datasetId, t.createdAt),
    index("comparison_tasks_open_idx").on(t.datasetId).where(sql`${t.rankingCount} < ${t.requiredRankings}`),
  ],
);

/** The completions of a task, in the per-task random order they are shown (stored so analysis can undo it). */
export const taskCompletions = pgTable(
  "task_completions",
  {
    taskId: uuid("task_id")
      .notNull()
      .references(() => comparisonTasks.id, { onDelete: "cascade" }),
    completionId: uuid("completion_id")
      .notNull()
      .references(() => completions.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.taskId, t.completionId] }),
    unique("task_completions_position_unique").on(t.taskId, t.position),
    check("task_completions_position_check", sql`${t.position} between 0 and 8`),
    index("task_completions_completion_idx").on(t.completionId),
  ],
);

/** A short hold an annotator has on a task while ranking it, so no two annotators take the last open slot. */
export const taskLeases = pgTable(
  "task_leases",
  {
    taskId: uuid("task_id")
      .notNull()
      .references(() => comparisonTasks.id, { onDelete: "cascade" }),
    annotatorId: text("annotator_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.taskId, t.annotatorId] }),
    index("task_leases_expires_idx").on(t.expiresAt),
    // The hand-out's first question, on every request: the task this annotator already holds.
    index("task_leases_annotator_idx").on(t.annotatorId),
  ],
);

/**
 * One annotator's answer to one task: groups of completion ids, best group first (a group of more than
 * one is a tie). Skipped and "all bad" answers carry no order. A ranking of K expands to C(K,2) pairs.
 */
export const rankings = pgTable(
  "rankings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => comparisonTasks.id, { onDelete: "cascade" }),
    annotatorId: text("annotator_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    ranking: jsonb("ranking").$type<string[][]>(),
    skipped: boolean("skipped").notNull().default(false),
    allBad: boolean("all_bad").notNull().default(false),
    /** Pairwise strength: 1 = slightly better, 2 = much better. */
    strength: integer("strength"),
    /** Per-completion flags, e.g. { "<completion id>": ["spam"] }. */
    flags: jsonb("flags").$type<Record<string, string[]>>().notNull().default({}),
    note: text("note"),
    timeMs: integer("time_ms"),
    /** Set by the client per submission; a retry with the same key stores nothing new. */
    idempotencyKey: text("idempotency_key").unique(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique("rankings_task_annotator_unique").on(t.taskId, t.annotatorId),
    index("rankings_annotator_idx").on(t.annotatorId, t.createdAt),
    check(
      "rankings_answer_check",
      sql`${t.skipped} or ${t.allBad} or (${t.ranking} is not null and jsonb_typeof(${t.ranking}) = 'array')`,
    ),
    check("rankings_strength_check", sql`${t.strength} is null or ${t.strength} between 1 and 2`),
    check("rankings_time_check", sql`${t.timeMs} is null or ${t.timeMs} >= 0`),
  ],
);

// ---------------------------------------------------------------------------------------------------
// Training telemetry: metrics, samples, logs
// ---------------------------------------------------------------------------------------------------

/**
 * One scalar per (run, key, step): a resumed run rewriting a step is an upsert, never a duplicate.
 * `run_id` names a run as a foreign key would, kept by triggers instead of one (drizzle/0004): each
 * statement that writes points checks their runs once (a foreign key checks every row: 27% of the
 * write rate, measured), and deleting a run deletes its points.
 */
export const metrics = pgTable(
  "metrics",
  {
    runId: uuid("run_id").notNull(),
    key: text("key").notNull(),
    step: bigint("step", { mode: "number" }).notNull(),
    value: doublePrecision("value").notNull(),
    wallTime: timestamp("wall_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.key, t.step] }),
    check("metrics_step_check", sql`${t.step} >= 0`),
  ],
);

export const samples = pgTable(
  "samples",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    step: bigint("step", { mode: "number" }).notNull(),
    prompt: text("prompt").notNull(),
    response: text("response").notNull(),
    reward: doublePrecision("reward"),
    kl: doublePrecision("kl"),
    extra: jsonb("extra").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index("samples_run_step_idx").on(t.runId, t.step),
    check("samples_step_check", sql`${t.step} >= 0`),
  ],
);

export const runLogs = pgTable(
  "run_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    level: text("level").notNull().default("info"),
    message: text("message").notNull(),
    ts: timestamp("ts", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("run_logs_run_idx").on(t.runId, t.id),
    check("run_logs_level_check", oneOf("level", ["debug", "info", "warn", "error"])),
  ],
);

// ---------------------------------------------------------------------------------------------------
// Chart rollups of metric series (derived from `metrics`; see src/series/rollups.ts)
// ---------------------------------------------------------------------------------------------------

/**
 * Each series cut into blocks of `span` = 32 · 16^level steps, a row per block holding at least one point:
 * its min, max and last point, its children in step order (the points of a 32-step block; the non-empty
 * blocks one level down otherwise) and, per child, the index of the min and the max of the children up
 * to it (prefix) and from it (suffix). A chart bucket boundary falling inside a block is then answered
 * from that one row (`downsampleSeries`). Written by `writeMetricPoints`, and by triggers on `metrics` for
 * any other writer (migration 0001); the child max/last arrays are NULL at span 32, where a child is one
 * point.
 */
export const metricRollups = pgTable(
  "metric_rollups",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    span: integer("span").notNull(),
    /** Steps [block · span, block · span + span − 1]. */
    block: bigint("block", { mode: "number" }).notNull(),
    minStep: bigint("min_step", { mode: "number" }).notNull(),
    minValue: doublePrecision("min_value").notNull(),
    maxStep: bigint("max_step", { mode: "number" }).notNull(),
    maxValue: doublePrecision("max_value").notNull(),
    lastStep: bigint("last_step", { mode: "number" }).notNull(),
    lastValue: doublePrecision("last_value").notNull(),
    childMinSteps: bigint("child_min_steps", { mode: "number" }).array().notNull(),
    childMinValues: doublePrecision("child_min_values").array().notNull(),
    childMaxSteps: bigint("child_max_steps", { mode: "number" }).array(),
    childMaxValues: doublePrecision("child_max_values").array(),
    childLastSteps: bigint("child_last_steps", { mode: "number" }).array(),
    childLastValues: doublePrecision("child_last_values").array(),
    /** 1-based indexes into the child arrays. */
    prefixMin: integer("prefix_min").array().notNull(),
    prefixMax: integer("prefix_max").array().notNull(),
    suffixMin: integer("suffix_min").array().notNull(),
    suffixMax: integer("suffix_max").array().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.key, t.span, t.block] }),
    check("metric_rollups_span_check", sql`${t.span} in (32, 512, 8192, 131072)`),
  ],
);
