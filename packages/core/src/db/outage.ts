/**
 * Telling a database outage (the server restarting, stopped, unreachable) from a statement that failed,
 * and waiting one out. Writers that must lose nothing — telemetry, a run's final state, a worker settling
 * a job — keep their data and retry with `backoffMs` while `isUnreachable` says the server is away;
 * any other error is theirs to report.
 */

/** Socket errors of a connection that cannot be made or was cut. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs of a server that is going away or not ready: class 08 (connection exception), 57P01–57P03
 * (admin or crash shutdown, cannot connect now: the server is starting or stopping), 53300 (too many
 * connections, a restart's reconnect storm).
 */
const SERVER_GONE_STATES = /^(08...|57P0[123]|53300)$/;

/** node-postgres says "the socket went away" in words rather than codes. */
const GONE_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|terminating connection|the database system is (starting up|shutting down|in recovery mode)|Client was closed and is not queryable/i;

/** Whether `error` (or an error it wraps, as drizzle's "Failed query" does) means the server was unreachable. */
export function isUnreachable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (NETWORK_CODES.has(code) || SERVER_GONE_STATES.test(code))) return true;
    if (GONE_MESSAGES.test(current.message)) return true;
    // AggregateError: a host name resolving to several addresses, each refused.
    const inner = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.some((e) => isUnreachable(e))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The innermost message of a wrapped error: drizzle's "Failed query: <sql>" hides the driver's reason. */
export function rootMessage(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  if (current instanceof AggregateError && current.errors[0] instanceof Error)
    return current.errors[0].message;
  return current instanceof Error ? current.message || String(current) : String(current);
}

/** Delay before retry number `attempt` (0-based): 0.5 s doubling to `maxMs`, so a restart is seen within seconds. */
export function backoffMs(attempt: number, maxMs = 5_000): number {
  return Math.min(500 * 2 ** Math.min(attempt, 10), maxMs);
}

export interface UntilReachableOptions {
  /** Give up (throw the last error) once the database has been away this long (default: never). */
  maxWaitMs?: number;
  /** Told once when the first attempt fails, and again when it succeeds after failing. */
  onOutage?: (event: { state: "unreachable"; error: string } | { state: "back"; seconds: number }) => void;
  signal?: AbortSignal;
}

/** Run `fn`, again and again with backoff while the database is unreachable; other errors are thrown at once. */
export async function untilReachable<T>(
  fn: () => Promise<T>,
  options: UntilReachableOptions = {},
): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 0) options.onOutage?.({ state: "back", seconds: (Date.now() - started) / 1000 });
      return result;
    } catch (error) {
      if (!isUnreachable(error) || options.signal?.aborted) throw error;
      if (options.maxWaitMs !== undefined && Date.now() - started >= options.maxWaitMs) throw error;
      if (attempt === 0) options.onOutage?.({ state: "unreachable", error: rootMessage(error) });
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
    }
  }
}
