/**
 * Stop signals as a person means them. A terminal's Ctrl-C sends SIGINT to the whole foreground process
 * group, and pnpm, in that group, passes the SIGINT it got on to its child as well: a program run by
 * `pnpm rlhf …` or `pnpm start` sees one Ctrl-C as one or two SIGINTs a moment apart (two when it was
 * busy enough that the kernel did not merge them). A repeat within `sameWithinMs` is therefore the same
 * request; a later one is a second press (hurry).
 */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** Call `handler` with the signal and which press it is (1, 2, …); returns a function that removes it. */
export function onStopSignals(
  handler: (signal: StopSignal, press: number) => void,
  { signals = ["SIGINT", "SIGTERM", "SIGHUP"] as StopSignal[], sameWithinMs = 1000 } = {},
): () => void {
  let presses = 0;
  let last = Number.NEGATIVE_INFINITY;
  const listener = (signal: StopSignal) => {
    const now = Date.now();
    const repeat = now - last < sameWithinMs;
    last = now;
    if (repeat) return;
    presses += 1;
    handler(signal, presses);
  };
  for (const signal of signals) process.on(signal, listener);
  return () => {
    for (const signal of signals) process.off(signal, listener);
  };
}
