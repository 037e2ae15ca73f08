import { isStoreError } from '../core/errors.js';
import type { Authentication } from '../protocol/handshake.js';
import { ApiError } from './api-error.js';
import type { Principal, TokenAuthority } from './tokens.js';

/**
 * A connection's check of the bearer token in its Authorization header, for a ConnectionAdmission
 * hook (the runner protocol's, the API's event streams'): `accept` decides on the token's principal
 * and resolves with whom it accepts, or throws an ApiError 403. A token missing, unknown, revoked or
 * expired is rejected 401, as the API answers it; a store that failed to tell 503 VK_STORE, as every
 * protected route answers it (app.ts): the client retries, where a 500 would say the server has a bug.
 * Anything else is a bug, thrown on: ConnectionAdmission logs it and answers 500 VK_INTERNAL.
 */
export function tokenCheck<Accepted>(
  authority: TokenAuthority,
  accept: (principal: Principal) => Promise<Accepted>,
): (authorization: string | undefined) => Promise<Authentication<Accepted>> {
  return async (authorization) => {
    try {
      const principal = await accept(await authority.authenticate(authorization));
      return { kind: 'accepted', principal };
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403))
        return { kind: 'rejected', status: error.status, code: error.code, message: error.message };
      if (isStoreError(error))
        return { kind: 'rejected', status: 503, code: 'VK_STORE', message: error.message };
      throw error;
    }
  };
}
