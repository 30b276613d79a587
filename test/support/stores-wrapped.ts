import { StoreUnavailableError } from '../../src/errors.js';
import type { Batch, StateStore } from '../../src/state/store.js';

/**
 * A real store with its `apply` instrumented: every call is recorded, and `fail(n)` makes the next
 * n calls throw StoreUnavailableError before touching the store (as a store that is down does),
 * `poison` makes the calls whose batch it matches fail as a bad message would, `delay` holds each call. Everything else goes to the real store.
 */
export interface WrappedStore extends StateStore {
  calls: Batch[];
  fail(times: number): void;
  failAlways(on: boolean): void;
  /** While set, a call whose batch it matches throws a plain Error (not retryable: a message at fault). */
  poison: ((batch: Batch) => boolean) | undefined;
  delayMs: number;
}

export function wrapStore(store: StateStore): WrappedStore {
  let failures = 0;
  let always = false;
  const extras = {
    calls: [] as Batch[],
    delayMs: 0,
    poison: undefined as ((batch: Batch) => boolean) | undefined,
    fail(times: number) {
      failures = times;
    },
    failAlways(on: boolean) {
      always = on;
    },
    async apply(batch: Batch) {
      extras.calls.push(batch);
      if (extras.delayMs > 0) await new Promise((r) => setTimeout(r, extras.delayMs));
      if (always || failures > 0) {
        failures = Math.max(0, failures - 1);
        throw new StoreUnavailableError('state store unavailable: injected by the test');
      }
      if (extras.poison?.(batch)) throw new Error('injected by the test: this batch holds the poison');
      return store.apply(batch);
    },
  };
  // Everything else is the real store's, called on the real store.
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(extras, prop)) return extras[prop as keyof typeof extras];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
    set(target, prop, value) {
      if (Object.hasOwn(extras, prop)) return Reflect.set(extras, prop, value);
      return Reflect.set(target, prop, value, target);
    },
  }) as WrappedStore;
}
