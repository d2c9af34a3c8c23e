/**
 * What a workbench process does with an error nobody caught. tfjs-backend-wasm's Emscripten module adds
 * `uncaughtException` / `unhandledRejection` listeners that re-throw, and Node then prints the source
 * line of that throw — ~20 KB of minified library code — before the stack. Ours are the only ones:
 * one readable line on stderr, the stack to whoever keeps a log, and exit.
 */

/** An error as one line a person can read: its name and first message line, at most `max` characters. */
export function oneLine(error: unknown, max = 300): string {
  const text =
    error instanceof Error
      ? `${error.name && error.name !== "Error" ? `${error.name}: ` : ""}${error.message}`
      : String(error);
  const first = text.split("\n", 1)[0]!.trim() || "(no message)";
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

export interface ProcessErrorOptions {
  /** Starts the stderr line, e.g. "rlhf" → "rlhf: connect ECONNREFUSED 127.0.0.1:5432". */
  prefix: string;
  /** Keep the stack somewhere (a run's log); awaited for at most `logTimeoutMs`. */
  keepStack?: (line: string, stack: string) => Promise<void> | void;
  logTimeoutMs?: number;
  exitCode?: number;
}

let installed = false;

/** Install once per process, before tfjs's backend starts. */
export function handleProcessErrors(options: ProcessErrorOptions): void {
  if (installed) return;
  installed = true;
  let exiting = false;
  const onError = (error: unknown, origin: string) => {
    if (exiting) return;
    exiting = true;
    const line = `${options.prefix}: ${origin === "unhandledRejection" ? "unhandled rejection: " : ""}${oneLine(error)}`;
    process.stderr.write(`${line}\n`);
    const stack = error instanceof Error && error.stack ? error.stack : String(error);
    const kept = Promise.resolve()
      .then(() => options.keepStack?.(line, stack))
      .catch(() => {});
    const timeout = new Promise((resolve) => setTimeout(resolve, options.logTimeoutMs ?? 3000).unref());
    void Promise.race([kept, timeout]).then(() => process.exit(options.exitCode ?? 1));
  };
  const ours = {
    uncaughtException: (error: Error, origin: string) => onError(error, origin),
    unhandledRejection: (reason: unknown) => onError(reason, "unhandledRejection"),
  };
  // Typed loosely: Node's overloads of `on` have no signature for "newListener" with these events.
  const emitter = process as unknown as NodeJS.EventEmitter;
  const watched = (event: string | symbol): event is keyof typeof ours =>
    event === "uncaughtException" || event === "unhandledRejection";
  // Every listener runs, so one that re-throws must not be there at all: a listener added later (the
  // wasm backend starting) is taken off again at once (it is added right after this event fires).
  emitter.on("newListener", (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (watched(event) && listener !== ours[event])
      queueMicrotask(() => emitter.removeListener(event, listener));
  });
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    for (const listener of emitter.listeners(event)) emitter.removeListener(event, listener as never);
    emitter.on(event, ours[event]);
  }
}

/**
 * Run `fn` (starting tfjs's backend, say) and take off any `uncaughtException` / `unhandledRejection`
 * listener it added: for a process that keeps Node's own handling, such as a web app's server, where the
 * wasm module's re-throwing listeners would turn any stray rejection into a crash printing its source.
 */
export async function keepingProcessErrorListeners<T>(fn: () => Promise<T>): Promise<T> {
  const emitter = process as unknown as NodeJS.EventEmitter;
  const events = ["uncaughtException", "unhandledRejection"] as const;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  try {
    return await fn();
  } finally {
    for (const event of events)
      for (const listener of emitter.listeners(event))
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as never);
  }
}
