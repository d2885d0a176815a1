/**
 * One error type for the whole server. `code` is machine-readable and stable (clients switch on it); the HTTP
 * status comes from the table below, so a code cannot drift to a different status in one handler.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  INPUT_TOO_DEEP: 400,
  INVALID_STRING: 400,
  NUMBER_OUT_OF_RANGE: 400,
  REPEATED_PARAMETER: 400,
  INVALID_TARGETING: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  WRONG_TOKEN_KIND: 403,
  NOT_FOUND: 404,
  FLAG_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  EVALUATOR_NOT_FOUND: 404,
  CANARY_NOT_FOUND: 404,
  REVISION_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  FLAG_EXISTS: 409,
  EVALUATOR_IN_USE: 409,
  CANARY_ACTIVE: 409,
  CANARY_INVALID_TRANSITION: 409,
  CANARY_NOT_PAUSED: 409,
  CANARY_CONFLICT: 409,
  REVERT_TARGET_DELETED: 409,
  PRECONDITION_FAILED: 412,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PRECONDITION_REQUIRED: 428,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  CANARIES_DISABLED: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  /** JSON Pointer of the offending field in the request body, or the query/header name. */
  path: string;
  code: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  /** JSON Pointer of the first problem, repeated at top level so simple clients need not read `details`. */
  readonly path: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; path?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details ?? [];
    this.path = options.path ?? this.details[0]?.path;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string; path?: string; details?: ErrorDetail[] } } {
    const body: { code: ErrorCode; message: string; path?: string; details?: ErrorDetail[] } = {
      code: this.code,
      message: this.message,
    };
    if (this.path !== undefined) body.path = this.path;
    if (this.details.length > 0) body.details = this.details;
    return { error: body };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
