/**
 * Typed errors. Every kind has a stable `code` (logged, exported, matched by operators) and a
 * `retryable` flag: a source redelivers a message whose handling failed with a retryable error, and
 * quarantines or fails fast on the others.
 */
export abstract class GradestreamError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration (environment, flags, files it names) is invalid; every problem is listed. */
export class ConfigError extends GradestreamError {
  readonly code = 'CONFIG_INVALID';
  readonly retryable = false;
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/** The HTTP port cannot be listened on (in use, or a privileged port): the message says how to choose another. */
export class PortUnavailableError extends GradestreamError {
  readonly code = 'PORT_UNAVAILABLE';
  readonly retryable = false;
}

/** A command line that cannot be run: unknown option, missing argument. Exit code 2. */
export class UsageError extends GradestreamError {
  readonly code = 'USAGE';
  readonly retryable = false;
}

/** An input file or stream that cannot be opened or read. Exit code 2. */
export class InputUnreadableError extends GradestreamError {
  readonly code = 'INPUT_UNREADABLE';
  readonly retryable = false;
}

/** The state store cannot be reached or refused a transaction for a passing reason: redeliver later. */
export class StoreUnavailableError extends GradestreamError {
  readonly code = 'STORE_UNAVAILABLE';
  readonly retryable = true;
}

/** A bug or an impossible state: never retried, always logged with its stack. */
export class InternalError extends GradestreamError {
  readonly code = 'INTERNAL';
  readonly retryable = false;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof GradestreamError && err.retryable;
}
