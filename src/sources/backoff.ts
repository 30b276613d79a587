/**
 * Retry pacing shared by the live sources: exponential backoff with jitter, and a sleep that a stop
 * can cut short.
 */

export interface BackoffOptions {
  /** the first delay, in ms (default 500) */
  initialMs?: number;
  /** the longest delay, in ms (default 30,000) */
  maxMs?: number;
}

/**
 * Delays for consecutive failures: initialMs × 2^(n−1), capped at maxMs, each drawn uniformly from
 * its upper half ("equal jitter"), so that replicas or pollers failing together do not retry in step.
 */
export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = Math.max(options.maxMs ?? 30_000, this.initialMs);
  }

  /** Counts a failure and returns how long to wait before the next attempt. */
  next(): number {
    this.failures += 1;
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A success: the next failure starts from initialMs again. */
  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
