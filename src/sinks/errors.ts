import { GradestreamError } from '../errors.js';

/**
 * Delivery failures (SPEC §5). Either way the run fails and acknowledges nothing, so the next run sends
 * the same rows again; `retryable` tells the scheduler whether trying again soon can help.
 */

/** The SIS refused the batch (HTTP 4xx, access denied, unwritable directory): retrying will not help. */
export class SinkRejectedError extends GradestreamError {
  readonly code = 'SINK_REJECTED';
  readonly retryable = false;
  constructor(
    message: string,
    /** HTTP status when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The SIS could not be reached or failed on its side (5xx, network, full disk), after every attempt. */
export class SinkUnavailableError extends GradestreamError {
  readonly code = 'SINK_UNAVAILABLE';
  readonly retryable = true;
  constructor(
    message: string,
    /** Attempts made before giving up. */
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
