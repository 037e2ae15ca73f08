import type { IncomingMessage } from 'node:http';
import {
  type Authenticate,
  type Authentication,
  checkVersionHeader,
  type LogError,
  type Refusal,
} from './handshake.js';

/** What the hook answered, or the refusal of a hook that threw. */
type HookAnswer<Principal> = Authentication<Principal> | (Refusal & { readonly kind: 'failed' });

/**
 * The checks every new connection of one acceptor passes, in order: the acceptor is not closing, the
 * client speaks this protocol version, and the authentication hook accepts it. The hook may wait on
 * the store, and what happened here meanwhile decides over what it answers:
 * - the acceptor began to close: the connection is refused 503 VK_SHUTTING_DOWN, as one that came
 *   after is, whatever the hook answered. A store the shutdown closed under the hook fails it (503
 *   VK_STORE), and the runner is to take the shutdown's word for it: retry elsewhere or later.
 * - the credential it accepted was revoked (revoke()): the hook read it before, and revoke() ended
 *   the sessions of that time only. It is authenticated again, so refused as any new connection with
 *   a revoked credential is (the server's hook: 401 VK_UNAUTHORIZED).
 * A hook that throws is answered 500 VK_INTERNAL, as the API answers a bug: the client learns nothing
 * of the failure (its message may name a file, a query or a secret's place), the server's log gets
 * it whole (`logError`).
 * Lifecycle: admit() once per connection, any number at once; revoke() at any time.
 */
export class ConnectionAdmission<Principal> {
  /** One per hook call still running: the principals revoked since it was called. */
  private readonly authenticating = new Set<Set<Principal>>();

  constructor(
    private readonly closing: () => boolean,
    private readonly authenticate: Authenticate<Principal>,
    private readonly logError: LogError,
  ) {}

  /**
   * Admits the connection and calls `open` with its principal, in the same turn as the last check
   * (so neither the acceptor's close() nor a revoke() falls between the checks and the session);
   * resolves with undefined then, or with why the connection is refused.
   */
  async admit(request: IncomingMessage, open: (principal: Principal) => void): Promise<Refusal | undefined> {
    if (this.closing()) return shuttingDown;
    const versionError = checkVersionHeader(request.headers);
    if (versionError !== undefined) return { status: 400, ...versionError };
    for (;;) {
      const revoked = new Set<Principal>();
      this.authenticating.add(revoked);
      let authentication: HookAnswer<Principal>;
      try {
        authentication = await this.authenticateOnce(request);
      } finally {
        this.authenticating.delete(revoked);
      }
      if (this.closing()) return shuttingDown;
      if (authentication.kind !== 'accepted') {
        const { status, code, message } = authentication;
        return { status, code, message };
      }
      if (!revoked.has(authentication.principal)) {
        open(authentication.principal);
        return undefined;
      }
    }
  }

  /** The connections being authenticated that the hook accepts as `principal` are authenticated again. */
  revoke(principal: Principal): void {
    for (const revoked of this.authenticating) revoked.add(principal);
  }

  private async authenticateOnce(request: IncomingMessage): Promise<HookAnswer<Principal>> {
    try {
      return await this.authenticate({
        headers: request.headers,
        remoteAddress: request.socket.remoteAddress,
      });
    } catch (error) {
      this.logError(error);
      return {
        kind: 'failed',
        status: 500,
        code: 'VK_INTERNAL',
        message:
          'the server failed unexpectedly while authenticating the connection; its log has the details',
      };
    }
  }
}

const shuttingDown: Refusal = {
  status: 503,
  code: 'VK_SHUTTING_DOWN',
  message: 'the control plane is shutting down',
};
