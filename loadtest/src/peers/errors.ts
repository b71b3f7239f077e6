/**
 * Errors of the test peers. They are plain `Error` subclasses (not the platform's `AppError`):
 * a peer is a client, so nothing maps them to HTTP responses.
 */

/** A WHIP/WHEP request failed: wrong status, missing header, or no answer body. */
export class SignalingError extends Error {
  /** The HTTP status, or 0 when no response arrived (network error, timeout). */
  readonly status: number;
  /** The response body (truncated), useful in test failure messages. */
  readonly body: string;

  constructor(message: string, status: number, body = '') {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.body = body;
  }
}

/** A bounded wait (connection, frames, ICE gathering, process exit) ran out of time. */
export class PeerTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = new.target.name;
  }
}

/** A method was called on a peer that is already closed, or before it was ready. */
export class InvalidStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
