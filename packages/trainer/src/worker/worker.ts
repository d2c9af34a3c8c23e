/**
 * `rlhf worker`: claims runs from the queue and runs each in a job process of its own.
 *
 * One loop, every `pollIntervalMs`:
 *   1. heartbeat the runs it holds, and read their cancel requests (a cancel reaches the job within ~1 s);
 *   2. claim runs while it has free slots (`concurrency`);
 *   3. now and then, reap runs whose worker stopped heartbeating (any worker may; SKIP LOCKED).
 * A job process that exits is settled (its job closed, or its attempt counted as failed and re-queued).
 * SIGTERM: stop claiming, ask each job process to checkpoint and hand its run back, wait, exit.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { type Database, isUnreachable, rootMessage, untilReachable } from "@rlhf/core/db";
import { childEnv } from "@rlhf/core/env";
import {
  type AttemptExit,
  type Claim,
  claimRun,
  describeExit,
  heartbeat,
  queueFor,
  queueOfKind,
  RUN_QUEUE,
  type RunQueue,
  type RunQueueName,
  reapStaleRuns,
  recoverOwnRuns,
  SERVE_QUEUE,
  settleAttempt,
} from "@rlhf/core/queue";
import { EXIT_ORPHANED, EXIT_UNREACHABLE, type FromJobProcess, type ToJobProcess } from "./messages";

export interface WorkerOptions {
  /** Training (and other non-serving) jobs run at once by this worker (default 1). */
  concurrency?: number;
  /**
   * Serve runs held at once, besides `concurrency` (default 1; 0 = never serve). A served model holds its
   * slot until cancelled, so it has slots of its own and never keeps a training run waiting.
   */
  serveSlots?: number;
  /** Unique among live workers; default `<host>-<pid>`. A worker restarted under the same id recovers its runs at once. */
  workerId?: string;
  /** Heartbeat, cancel poll and claim poll period (default 1000 ms). */
  pollIntervalMs?: number;
  /** A running run whose heartbeat is older than this has lost its worker and is re-queued (default 30 s). */
  staleAfterSeconds?: number;
  /** How often this worker looks for such runs (default 5000 ms). */
  reapIntervalMs?: number;
  /** Failed attempts (crashes, lost workers) after which a run is failed instead of re-queued (default 3). */
  maxAttempts?: number;
  /** After asking a job to stop for a cancel, kill it if it has not exited within this (default 3000 ms). */
  cancelGraceMs?: number;
  /** After asking a job to stop for a shutdown, kill it (and re-queue the run) after this (default 60 s). */
  shutdownGraceMs?: number;
  /** A run whose inputs are not ready is looked at again after this (default 30 s; a finishing input wakes it sooner). */
  inputRecheckSeconds?: number;
  /**
   * A database outage longer than this stops a job (checkpoint, back in the queue, not counted as a
   * failure); shorter ones it trains through (default: RLHF_OUTAGE_LIMIT_SECONDS, else 300 s).
   */
  outageLimitSeconds?: number;
  /** Where the worker's own lines and its jobs' output go (default: stdout). */
  print?: (line: string, event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: "started"; workerId: string; host: string; concurrency: number; serveSlots: number }
  | { type: "claimed"; runId: string; name: string; kind: string; attempt: number; pid: number | undefined }
  | { type: "output"; runId: string; name: string; stream: "stdout" | "stderr"; line: string }
  | { type: "cancelling"; runId: string; name: string }
  | { type: "lost"; runId: string; name: string }
  | { type: "settled"; runId: string; name: string; outcome: string; exit: string }
  | { type: "reaped"; runId: string; name: string; outcome: string }
  | { type: "error"; message: string }
  | { type: "database"; state: "unreachable"; error: string }
  | { type: "database"; state: "back"; seconds: number }
  | { type: "stopping"; running: number }
  | { type: "stopped" };

interface Held {
  claim: Claim;
  name: string;
  child: ChildProcess;
  tail: string[];
  stoppedFor?: "cancel" | "shutdown";
  killTimer?: NodeJS.Timeout;
  settled?: boolean;
}

const TAIL_LINES = 40;
const JOB_PROCESS = fileURLToPath(new URL("./job-process.ts", import.meta.url));

export class Worker {
  readonly workerId: string;
  readonly host = os.hostname();
  private readonly options: Required<Omit<WorkerOptions, "workerId" | "print" | "outageLimitSeconds">> &
    Pick<WorkerOptions, "print" | "outageLimitSeconds">;
  private readonly held = new Map<string, Held>();
  private boss: RunQueue | undefined;
  private stopping = false;
  private lastReap = 0;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** While the database does not answer: since when; and when it last came back. */
  private unreachableSince: number | undefined;
  private reachableAgainAt = 0;

  constructor(
    private readonly database: Database,
    options: WorkerOptions = {},
  ) {
    this.workerId = options.workerId ?? `${os.hostname()}-${process.pid}`;
    this.options = {
      concurrency: options.concurrency ?? 1,
      serveSlots: options.serveSlots ?? 1,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      staleAfterSeconds: options.staleAfterSeconds ?? 30,
      reapIntervalMs: options.reapIntervalMs ?? 5000,
      maxAttempts: options.maxAttempts ?? 3,
      cancelGraceMs: options.cancelGraceMs ?? 3000,
      shutdownGraceMs: options.shutdownGraceMs ?? 60_000,
      inputRecheckSeconds: options.inputRecheckSeconds ?? 30,
      outageLimitSeconds: options.outageLimitSeconds,
      print: options.print,
    };
    if (!Number.isInteger(this.options.concurrency) || this.options.concurrency < 1) {
      throw new Error(`concurrency must be a whole number ≥ 1 (got ${options.concurrency})`);
    }
    if (!Number.isInteger(this.options.serveSlots) || this.options.serveSlots < 0) {
      throw new Error(`serveSlots must be a whole number ≥ 0 (got ${options.serveSlots})`);
    }
  }

  /** Start the loop; resolves once the worker is taking jobs. */
  async start(): Promise<void> {
    this.boss = await queueFor(this.database, { supervise: true });
    this.emit({
      type: "started",
      workerId: this.workerId,
      host: this.host,
      concurrency: this.options.concurrency,
      serveSlots: this.options.serveSlots,
    });
    for (const r of await recoverOwnRuns(this.database, this.boss, this.workerId)) {
      this.emit({ type: "reaped", runId: r.runId, name: r.name, outcome: r.outcome });
    }
    this.loop = this.run();
  }

  /** Finished when the worker has stopped (after `stop()`). */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Graceful stop: no new claims; running jobs checkpoint and go back to the queue; then return. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.emit({ type: "stopping", running: this.held.size });
      for (const held of this.held.values()) this.stopJob(held, "shutdown", this.options.shutdownGraceMs);
      this.wake();
    }
    await this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopping || this.held.size > 0) {
      try {
        await this.tick();
        if (this.unreachableSince !== undefined) {
          this.emit({
            type: "database",
            state: "back",
            seconds: (Date.now() - this.unreachableSince) / 1000,
          });
          this.unreachableSince = undefined;
          this.reachableAgainAt = Date.now();
        }
      } catch (error) {
        // An outage is said once (its jobs train on), not every poll.
        if (!isUnreachable(error)) this.emit({ type: "error", message: (error as Error).message });
        else if (this.unreachableSince === undefined) {
          this.unreachableSince = Date.now();
          this.emit({ type: "database", state: "unreachable", error: rootMessage(error) });
        }
      }
      await this.sleep(this.options.pollIntervalMs);
    }
    await this.boss?.stop({ graceful: false, close: false }).catch(() => {});
    this.emit({ type: "stopped" });
  }

  private async tick(): Promise<void> {
    // 1. Heartbeat; cancels; runs taken away (this worker was presumed dead).
    const states = await heartbeat(
      this.database,
      this.workerId,
      [...this.held.values()].map((h) => ({ runId: h.claim.run.id, jobId: h.claim.jobId })),
    );
    for (const state of states) {
      const held = this.held.get(state.runId);
      if (!held || held.child.exitCode !== null) continue;
      if (!state.owned) {
        this.emit({ type: "lost", runId: state.runId, name: held.name });
        held.child.kill("SIGKILL");
      } else if (state.cancelRequested && state.status === "running" && held.stoppedFor !== "cancel") {
        this.emit({ type: "cancelling", runId: state.runId, name: held.name });
        this.stopJob(held, "cancel", this.options.cancelGraceMs);
      }
    }

    // 2. Claim while there is room: training slots and serving slots, each from its own queue.
    for (const [queue, slots] of [
      [RUN_QUEUE, this.options.concurrency],
      [SERVE_QUEUE, this.options.serveSlots],
    ] as const) {
      while (!this.stopping && this.heldIn(queue) < slots) {
        const claim = await claimRun(
          this.database,
          this.boss!,
          { workerId: this.workerId, workerHost: this.host },
          { inputRecheckSeconds: this.options.inputRecheckSeconds, queue },
        );
        if (!claim) break;
        this.spawn(claim);
      }
    }

    // 3. Reap. Not until the workers have had `staleAfterSeconds` to beat again after an outage: none
    //    could while the database was away, and none of them is dead for that.
    const afterOutage = Date.now() - this.reachableAgainAt < this.options.staleAfterSeconds * 1000;
    if (!afterOutage && Date.now() - this.lastReap >= this.options.reapIntervalMs) {
      this.lastReap = Date.now();
      const reaped = await reapStaleRuns(this.database, this.boss!, {
        staleAfterSeconds: this.options.staleAfterSeconds,
        maxAttempts: this.options.maxAttempts,
      });
      for (const r of reaped) this.emit({ type: "reaped", runId: r.runId, name: r.name, outcome: r.outcome });
      if (reaped.length > 0) this.wake();
    }
  }

  /** Runs held from `queue`. */
  private heldIn(queue: RunQueueName): number {
    let count = 0;
    for (const held of this.held.values()) if (queueOfKind(held.claim.run.kind) === queue) count += 1;
    return count;
  }

  private spawn(claim: Claim): void {
    const { run } = claim;
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = fork(JOB_PROCESS, [run.id], {
      execArgv: ["--import", tsx],
      env: childEnv({
        DATABASE_URL: this.database.url,
        RLHF_WORKER_ID: this.workerId,
        ...(this.options.outageLimitSeconds !== undefined
          ? { RLHF_OUTAGE_LIMIT_SECONDS: String(this.options.outageLimitSeconds) }
          : {}),
      }),
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.emit({
      type: "claimed",
      runId: run.id,
      name: run.name,
      kind: run.kind,
      attempt: run.attempts + 1,
      pid: child.pid,
    });
    const held: Held = { claim, name: run.name, child, tail: [] };
    for (const stream of ["stdout", "stderr"] as const) {
      let partial = "";
      child[stream]!.setEncoding("utf8");
      child[stream]!.on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.output(held, stream, line);
      });
      child[stream]!.on("end", () => partial && this.output(held, stream, partial));
    }
    child.on("message", (message: FromJobProcess) => {
      if (message?.type === "result" && message.error) held.tail.push(`error: ${message.error}`);
    });
    // "close", not "exit": by then its output is read to the end, so the log tail is complete.
    child.once("close", (code, signal) => {
      clearTimeout(held.killTimer);
      void this.settle(held, { code, signal });
    });
    child.once("error", (error) => {
      this.emit({ type: "error", message: `job process of ${run.name}: ${error.message}` });
      // It never started (no pid, so no "exit" will come): settle it as a failed attempt now.
      if (child.pid === undefined) {
        held.tail.push(`could not start the job process: ${error.message}`);
        void this.settle(held, { code: null, signal: null });
      }
    });
    this.held.set(run.id, held);
  }

  private output(held: Held, stream: "stdout" | "stderr", line: string): void {
    held.tail.push(line);
    if (held.tail.length > TAIL_LINES) held.tail.shift();
    this.emit({ type: "output", runId: held.claim.run.id, name: held.name, stream, line });
  }

  /** Ask a job process to stop (it checkpoints and returns); kill it if it takes longer than `graceMs`. */
  private stopJob(held: Held, reason: "cancel" | "shutdown", graceMs: number): void {
    if (held.child.exitCode !== null || held.child.signalCode !== null) return;
    held.stoppedFor = reason;
    const message: ToJobProcess = { type: "stop", reason };
    if (held.child.connected) held.child.send(message, () => {});
    clearTimeout(held.killTimer);
    held.killTimer = setTimeout(() => held.child.kill("SIGKILL"), graceMs);
  }

  private async settle(held: Held, { code, signal }: { code: number | null; signal: string | null }) {
    if (held.settled) return;
    held.settled = true;
    const exit: AttemptExit = {
      code,
      signal,
      // A stop only explains a kill; a job process that exited by itself has recorded its own outcome.
      stoppedFor: signal === "SIGKILL" ? held.stoppedFor : undefined,
      logTail: held.tail.join("\n"),
      ...(code === EXIT_UNREACHABLE ? { interrupted: "the job process could not reach the database" } : {}),
    };
    let outcome = "unsettled";
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        // Through an outage, for as long as it lasts: a run left running would be reaped as a failure.
        outcome = await untilReachable(() =>
          settleAttempt(this.database, this.boss!, {
            runId: held.claim.run.id,
            jobId: held.claim.jobId,
            workerId: this.workerId,
            exit,
            maxAttempts: this.options.maxAttempts,
          }),
        );
        break;
      } catch (error) {
        // Some other error: tried a few times; if it persists, the reaper settles the run later.
        this.emit({ type: "error", message: `settling ${held.name}: ${(error as Error).message}` });
        await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
    const how = code === EXIT_ORPHANED ? "orphaned" : code === 0 ? "exited" : describeExit({ code, signal });
    this.emit({ type: "settled", runId: held.claim.run.id, name: held.name, outcome, exit: how });
    this.held.delete(held.claim.run.id);
    this.wake();
  }

  private emit(event: WorkerEvent): void {
    const line = formatEvent(event);
    if (this.options.print) this.options.print(line, event);
    else process.stdout.write(`${line}\n`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}

export function formatEvent(event: WorkerEvent): string {
  switch (event.type) {
    case "started":
      return `worker ${event.workerId} on ${event.host}: taking up to ${event.concurrency} job(s) at a time, and ${event.serveSlots} serve run(s)`;
    case "claimed":
      return `▶ ${event.name} (${event.kind}, ${event.runId}) attempt ${event.attempt}`;
    case "output":
      return `[${event.name}] ${event.line}`;
    case "cancelling":
      return `■ ${event.name}: cancel requested, stopping`;
    case "lost":
      return `✗ ${event.name}: another worker took this run over (this worker was presumed dead); killing its job`;
    case "settled":
      return `● ${event.name}: ${event.outcome} (job process ${event.exit})`;
    case "reaped":
      return event.outcome === "resent"
        ? `↻ ${event.name}: queued without a job; sent again`
        : `↻ ${event.name}: its worker stopped heartbeating → ${event.outcome}`;
    case "error":
      return `worker error: ${event.message}`;
    case "database":
      return event.state === "unreachable"
        ? `database unreachable (${event.error}); running jobs train on, retrying`
        : `database answers again after ${event.seconds.toFixed(1)} s`;
    case "stopping":
      return `stopping: ${event.running} job(s) checkpoint and go back to the queue`;
    case "stopped":
      return "worker stopped";
  }
}
