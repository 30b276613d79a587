/**
 * A counting semaphore whose limit is read at every admission, so it can tighten while requests are in
 * flight (the client drops to one at a time when Canvas says its quota is running low).
 */
export class Gate {
  private active = 0;
  private highest = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly limit: () => number) {}

  /** Waits for a place; the function returned gives it back (calling it twice is harmless). */
  async acquire(): Promise<() => void> {
    while (this.active >= Math.max(1, this.limit())) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active += 1;
    this.highest = Math.max(this.highest, this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      // Wake everyone, in arrival order: each checks the (possibly changed) limit again.
      const woken = this.waiting;
      this.waiting = [];
      for (const wake of woken) wake();
    };
  }

  get inFlight(): number {
    return this.active;
  }

  /** The most requests that were ever in flight at once. */
  get peak(): number {
    return this.highest;
  }
}
