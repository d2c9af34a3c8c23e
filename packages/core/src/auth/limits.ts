/**
 * Failed sign-ins per account. better-auth limits requests per client address (3 sign-ins per 10 s); an
 * attacker with many addresses gets around that, so the account itself also counts its failures: after
 * SIGN_IN_FAILURES wrong passwords within SIGN_IN_WINDOW_SECONDS, further attempts for that email are
 * refused (429) until the oldest failure leaves the window. A success clears the count. Kept in the app
 * server's memory: a restart forgets it, which only ever loosens it.
 */
export const SIGN_IN_FAILURES = 10;
export const SIGN_IN_WINDOW_SECONDS = 15 * 60;
/** Accounts tracked at once; the oldest are forgotten first beyond it (a flood of made-up emails). */
const MAX_TRACKED = 100_000;

export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = SIGN_IN_FAILURES,
    private readonly windowMs = SIGN_IN_WINDOW_SECONDS * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(email: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const times = (this.failures.get(email) ?? []).filter((t) => t > cutoff);
    if (times.length === 0) this.failures.delete(email);
    else this.failures.set(email, times);
    return times;
  }

  /** Seconds until `email` may try again, or 0 when it may now. */
  retryAfter(email: string): number {
    const times = this.recent(email);
    if (times.length < this.max) return 0;
    return Math.max(1, Math.ceil((times[0]! + this.windowMs - this.now()) / 1000));
  }

  failed(email: string): void {
    const times = this.recent(email);
    times.push(this.now());
    this.failures.delete(email);
    this.failures.set(email, times);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(email: string): void {
    this.failures.delete(email);
  }
}
