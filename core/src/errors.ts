/**
 * One error hierarchy for the whole platform. Every error a client can cause is an AppError
 * carrying its HTTP status; the single HTTP mapping point (server `onError`) turns it into an
 * `application/problem+json` body (RFC 9457). Anything that is not an AppError is a bug: it is
 * logged with its stack and answered with a 500.
 */
export interface ProblemExtras {
  /** Extra HTTP headers to send with the error response (e.g. WWW-Authenticate, Retry-After). */
  headers?: Record<string, string>;
  /** Extra members of the problem+json body. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;

  constructor(status: number, title: string, message: string, extras: ProblemExtras = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.title = title;
    this.headers = extras.headers ?? {};
    this.details = extras.details ?? {};
  }

  /** The `type` member of the problem body: a stable, documented identifier. */
  get type(): string {
    return `https://wisp.dev/problems/${this.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  }
}

/** 400: the request is syntactically or semantically invalid (malformed JSON, SDP, ...). */
export class ValidationError extends AppError {
  constructor(message: string, extras?: ProblemExtras) {
    super(400, 'Bad Request', message, extras);
  }
}

/** 401: credentials missing or wrong. Carries a WWW-Authenticate challenge (RFC 6750 §3). */
export class UnauthorizedError extends AppError {
  constructor(message: string, invalidToken = false) {
    super(401, 'Unauthorized', message, {
      headers: {
        'WWW-Authenticate': invalidToken
          ? 'Bearer realm="wisp", error="invalid_token"'
          : 'Bearer realm="wisp"',
      },
    });
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'Forbidden', message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'Not Found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, extras?: ProblemExtras) {
    super(409, 'Conflict', message, extras);
  }
}

export class PreconditionFailedError extends AppError {
  constructor(message: string) {
    super(412, 'Precondition Failed', message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'Payload Too Large', `request body exceeds ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, accept?: { post?: string; patch?: string }) {
    const headers: Record<string, string> = {};
    if (accept?.post) headers['Accept-Post'] = accept.post;
    if (accept?.patch) headers['Accept-Patch'] = accept.patch;
    super(415, 'Unsupported Media Type', message, { headers });
  }
}

/** 422: well-formed, but asks for something we do not support (codec, track count, ...). */
export class UnprocessableError extends AppError {
  constructor(message: string) {
    super(422, 'Unprocessable Content', message);
  }
}

export class PreconditionRequiredError extends AppError {
  constructor(message: string) {
    super(428, 'Precondition Required', message);
  }
}

/**
 * 429: the client went over a rate limit (docs/operations.md#rate-limits). `Retry-After` is
 * whole seconds until its bucket has a token again (RFC 9110 §10.2.3); `bucket` in the
 * body names the limit.
 */
export class TooManyRequestsError extends AppError {
  constructor(bucket: string, retryAfterSeconds: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'Too Many Requests', `rate limit "${bucket}" exceeded: retry in ${seconds} s`, {
      headers: { 'Retry-After': String(seconds) },
      details: { bucket, retryAfter: seconds },
    });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(503, 'Service Unavailable', message, {
      headers: retryAfterSeconds ? { 'Retry-After': String(retryAfterSeconds) } : {},
    });
  }
}

/**
 * 507: the disk the platform writes its state or recordings to is full (ENOSPC, EDQUOT).
 * Nothing was changed; the same request succeeds once there is room again.
 */
export class InsufficientStorageError extends AppError {
  constructor(message: string) {
    super(507, 'Insufficient Storage', message, { headers: { 'Retry-After': '30' } });
  }
}

/** Whether `error` is the operating system saying the disk (or the quota) is full. */
export function isDiskFullError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** A method was called on an object in the wrong state (e.g. closed). A bug, not client input. */
export class InvalidStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStateError';
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * mediasoup rejects parameters it can't use with TypeError or UnsupportedError. When those
 * parameters came from a client's SDP, that is the client's error (422), not ours: this maps
 * them and passes anything else (InvalidStateError: a closed router) through unchanged. Use
 * it only around calls whose only variable input is the client's.
 */
export function clientParameterError(error: unknown, what: string): unknown {
  // The worker reports rejected parameters (duplicate SSRC, bad RID...) as a plain Error.
  const names = ['TypeError', 'UnsupportedError', 'Error'];
  if (error instanceof Error && names.includes(error.name) && !(error instanceof AppError)) {
    const detail = error.message.replace(/\s*\[method:[^\]]*\]\s*$/, '').trim();
    return new UnprocessableError(
      `${what} rejected by the media server${detail ? `: ${detail}` : ''}`,
    );
  }
  return error;
}
