/**
 * pg-boss on the workbench's database: the delivery mechanism for runs. The run's row in `runs` is the
 * truth about a run; a pg-boss job only says "a worker should look at run X now". Every job carries
 * `{ runId, failures }` and is sent inside the transaction that changes the run, through pg-boss's
 * per-call `db` executor, so a run and its job are created, replaced and finished together.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import PgBoss from "pg-boss";
import type { Database } from "../db/open";
import { coreEnv } from "../env";

/** The queue of training (and every other non-serving) run. */
export const RUN_QUEUE = "rlhf-runs";
/**
 * Serve runs have a queue of their own, which workers take from with slots of their own (`serveSlots`):
 * a model being served holds its slot until cancelled, and must never keep a training run waiting.
 */
export const SERVE_QUEUE = "rlhf-serve";
export const RUN_QUEUES = [RUN_QUEUE, SERVE_QUEUE] as const;
export type RunQueueName = (typeof RUN_QUEUES)[number];

/** The queue a run of `kind` goes through. */
export function queueOfKind(kind: string): RunQueueName {
  return kind === "serve" ? SERVE_QUEUE : RUN_QUEUE;
}
export const BOSS_SCHEMA = "pgboss";

/**
 * pg-boss may hold a job active for less than 24 h. Workers keep their own heartbeat in `runs`, so the
 * pg-boss expiry is only a backstop; with no retries, an expired job is simply closed, never re-sent.
 */
const JOB_EXPIRE_SECONDS = 23 * 60 * 60;

export interface RunJobData {
  runId: string;
  /** Attempts of this run that ended in a crash of its job process (a shutdown does not count). */
  failures: number;
  /**
   * Attempts cut short by the infrastructure — a lost or restarted worker, a database out of reach —
   * which do not count as failures; kept only when there were any.
   */
  interruptions?: number;
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

/** A pg-boss executor over a pool or a transaction's client, so a pg-boss call joins that transaction. */
export function bossExecutor(client: Queryable): PgBoss.Db {
  return { executeSql: (text, values) => client.query(text, values) };
}

/** The started pg-boss of a database (so packages without pg-boss of their own can name the type). */
export type RunQueue = PgBoss;

const bosses = new WeakMap<Database, Promise<PgBoss>>();

export interface BossOptions {
  /** Run pg-boss maintenance (expiry, archiving) in this process: workers do, launchers need not. */
  supervise?: boolean;
}

/**
 * The pg-boss of this database connection, started (its schema installed or migrated, the run queue
 * created) on first use. It runs its queries through the database's own pool.
 */
export function queueFor(database: Database, options: BossOptions = {}): Promise<PgBoss> {
  if (!options.supervise) {
    const cached = bosses.get(database);
    if (cached) return cached;
  }
  const started = startBoss(database, options);
  if (!options.supervise) {
    bosses.set(database, started);
    started.catch(() => bosses.delete(database));
  }
  return started;
}

async function startBoss(database: Database, options: BossOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    db: bossExecutor(database.pool),
    schema: BOSS_SCHEMA,
    supervise: options.supervise ?? false,
    schedule: false,
    migrate: true,
  });
  boss.on("error", (error) => {
    if (!coreEnv().RLHF_QUIET) process.stderr.write(`[rlhf queue] ${error.message}\n`);
  });
  await boss.start();
  for (const name of RUN_QUEUES) {
    await boss.createQueue(name, {
      name,
      policy: "standard",
      retryLimit: 0,
      expireInSeconds: JOB_EXPIRE_SECONDS,
    });
  }
  return boss;
}

/**
 * Send the job of `runId` (a run of `kind`) inside the caller's transaction and return its id (which the
 * caller stores in `runs.job_id`). `startAfterSeconds` defers it (a run waiting for its inputs).
 */
export async function sendRunJob(
  boss: PgBoss,
  client: Queryable,
  data: RunJobData,
  options: { kind: string; startAfterSeconds?: number },
): Promise<string> {
  const id = randomUUID();
  const sent = await boss.send(queueOfKind(options.kind), data as unknown as object, {
    id,
    db: bossExecutor(client),
    retryLimit: 0,
    expireInSeconds: JOB_EXPIRE_SECONDS,
    ...(options.startAfterSeconds ? { startAfter: options.startAfterSeconds } : {}),
  });
  if (!sent) throw new Error(`pg-boss did not accept the job of run ${data.runId}`);
  return sent;
}

/** The data of a run's current job (its failure count), or a fresh count when the job is gone. */
export async function runJobData(
  client: Queryable,
  runId: string,
  jobId: string | null,
): Promise<RunJobData> {
  if (!jobId) return { runId, failures: 0 };
  const { rows } = await client.query(
    `select data from ${BOSS_SCHEMA}.job where name = any($1::text[]) and id = $2::uuid
     union all
     select data from ${BOSS_SCHEMA}.archive where name = any($1::text[]) and id = $2::uuid
     limit 1`,
    [RUN_QUEUES, jobId],
  );
  const data = rows[0]?.data as Partial<RunJobData> | undefined;
  const interruptions = Number(data?.interruptions ?? 0);
  return { runId, failures: Number(data?.failures ?? 0), ...(interruptions > 0 ? { interruptions } : {}) };
}

/** Close the job of a run of `kind` (if it is still open) in the caller's transaction. */
export async function closeRunJob(
  boss: PgBoss,
  client: Queryable,
  job: { jobId: string | null; kind: string },
  how: "complete" | "cancel" | "fail",
): Promise<void> {
  const { jobId } = job;
  if (!jobId) return;
  const queue = queueOfKind(job.kind);
  const db = bossExecutor(client);
  if (how === "complete") await boss.complete(queue, jobId, {}, { db });
  else if (how === "fail") await boss.fail(queue, jobId, {}, { db });
  // `cancel` also closes jobs that were never fetched (created, retry); the others only close active ones.
  await boss.cancel(queue, jobId, { db });
}
