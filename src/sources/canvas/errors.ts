import { GradestreamError } from '../../errors.js';

/**
 * What can go wrong talking to Canvas's REST API (SPEC §8). Every error names the request's path (never
 * its query's secrets, never the token) so a reconciliation can report it per course and go on, or stop.
 */

/**
 * Canvas refused the token (HTTP 401): reconciliation stops at once (SPEC §8), nothing is retried, and
 * the message points at the setting, never at the token itself.
 */
export class CanvasUnauthorizedError extends GradestreamError {
  readonly code = 'CANVAS_UNAUTHORIZED';
  readonly retryable = false;
  constructor(readonly path: string) {
    super(
      `Canvas refused the access token (HTTP 401) for GET ${path}: check GRADESTREAM_CANVAS_TOKEN ` +
        '(expired, revoked, or for another Canvas instance)',
    );
  }
}

/** HTTP 404: the course (or account, or term) does not exist or is not visible. Not retried. */
export class CanvasNotFoundError extends GradestreamError {
  readonly code = 'CANVAS_NOT_FOUND';
  readonly retryable = false;
  constructor(readonly path: string) {
    super(`Canvas has no ${path} (HTTP 404)`);
  }
}

/**
 * Canvas could not answer after every attempt: 5xx, throttled, timed out, or unreachable. Trying the
 * whole reconciliation again later can help.
 */
export class CanvasUnavailableError extends GradestreamError {
  readonly code = 'CANVAS_UNAVAILABLE';
  readonly retryable = true;
  constructor(
    readonly path: string,
    /** Attempts made, the first included. */
    readonly attempts: number,
    /** The last problem: "HTTP 503", "throttled (HTTP 403 Rate Limit Exceeded)", "timed out", … */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Canvas did not answer GET ${path} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${problem}`, options);
  }
}

/** Any other refusal (400, 403 without throttling, 3xx, 422, …): the request itself is wrong. */
export class CanvasRequestError extends GradestreamError {
  readonly code = 'CANVAS_REQUEST_FAILED';
  readonly retryable = false;
  constructor(
    readonly path: string,
    /** HTTP status. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An answer that is not what Canvas documents: not JSON, the wrong shape, too large, or pagination
 * that leads off the Canvas origin or in circles. Retrying will not change it.
 */
export class CanvasResponseError extends GradestreamError {
  readonly code = 'CANVAS_BAD_RESPONSE';
  readonly retryable = false;
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`Canvas's answer to GET ${path} is unusable: ${message}`);
  }
}
