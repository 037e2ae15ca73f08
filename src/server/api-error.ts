import { type ErrorCode, ValkyrieError } from '../core/errors.js';

/**
 * An error the API answers with: `status` and a JSON body `{code, message, path?, ...details}`.
 * `path` names the request field that was wrong (`body.role`, `query.limit`).
 */
export class ApiError extends ValkyrieError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly details: { readonly path?: string } & Readonly<Record<string, unknown>> = {},
  ) {
    super(code, message);
    this.name = 'ApiError';
  }

  body(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export const shuttingDown = () =>
  new ApiError(
    503,
    'VK_SHUTTING_DOWN',
    'the server is shutting down; retry against another replica or later',
  );
