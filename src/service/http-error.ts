import { GradestreamError } from '../errors.js';

/**
 * An answer other than 2xx that a handler chose: its status, the message of the `{"error": …}` body and
 * extra headers. `code` is `HTTP_<status>`; retryable for 429 and 503 (the client should come back).
 */
export class HttpError extends GradestreamError {
  readonly code: string;
  readonly retryable: boolean;

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.code = `HTTP_${status}`;
    this.retryable = status === 429 || status === 503;
  }
}
