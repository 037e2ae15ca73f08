import type { IncomingMessage } from 'node:http';
import type { Authenticate, Authentication, LogError, Refusal } from './handshake.js';

/** What the hook answered, or the refusal of a hook that threw. */
type HookAnswer<Principal> = Authentication<Principal> | (Refusal & { readonly kind: 'failed' });

export interface AdmissionOptions<Principal> {
  readonly authenticate: Authenticate<Principal>;
  /** Told a hook that threw. */
  readonly logError: LogError;
  /** Whether the endpoint takes no new connections, before close() too (a server draining). */
  readonly closing?: () => boolean;
  /** Why a request is refused before the hook sees it, if it is (the runner protocol: versionRefusal). */
  readonly precheck?: (request: IncomingMessage) => Refusal | undefined;
}

/**
 * The checks every new long-lived connection of one endpoint passes (a runner protocol acceptor's, or
 * the API's event streams), in order: the endpoint is not closing, `precheck` lets the request through
 * (the runner protocol: the version the client speaks), and the authentication hook accepts it. The
 * hook may wait on the store, and what happened here meanwhile decides over what it answers:
 * - the endpoint began to close (close(), or `closing`): the connection is refused 503
 *   VK_SHUTTING_DOWN, as one that came after is, whatever the hook answered (it is logged if it
 *   threw). A store the shutdown closed under the hook fails it (503 VK_STORE), and the client is to
 *   take the shutdown's word for it: retry elsewhere or later. From close() on, it is refused so at
 *   once, without waiting for the hook: the HTTP server's close, which follows, would end its
 *   connection unanswered.
 * - the credential it accepted was revoked (revoke()): the hook read it before, and revoke() ended
 *   the sessions of that time only. It is authenticated again, so refused as any new connection with
 *   a revoked credential is (the server's hooks: 401 VK_UNAUTHORIZED).
 * A hook that throws is answered 500 VK_INTERNAL, as the API answers a bug: the client learns nothing
 * of the failure (its message may name a file, a query or a secret's place), the server's log gets
 * it whole (`logError`).
 * Lifecycle: admit() once per connection, any number at once; revoke() at any time; close() once the
 * endpoint closes (idempotent).
 */
export class ConnectionAdmission<Principal> {
  /** One per hook call still running: the principals revoked since it was called, and its end by close(). */
  private readonly checks = new Map<Set<Principal>, () => void>();
  private closed = false;

  constructor(private readonly options: AdmissionOptions<Principal>) {}

  /**
   * Admits the connection and calls `open` with its principal, in the same turn as the last check
   * (so neither the endpoint's close() nor a revoke() falls between the checks and the session);
   * resolves with undefined then, or with why the connection is refused.
   */
  async admit(request: IncomingMessage, open: (principal: Principal) => void): Promise<Refusal | undefined> {
    if (this.refusing()) return shuttingDown;
    const refusal = this.options.precheck?.(request);
    if (refusal !== undefined) return refusal;
    for (;;) {
      const revoked = new Set<Principal>();
      // Its own promise, not one every check shares: a race with a promise that outlives it would keep
      // each check's reaction until the endpoint closed.
      const closed = new Promise<'closed'>((resolve) => this.checks.set(revoked, () => resolve('closed')));
      let authentication: HookAnswer<Principal> | 'closed';
      try {
        authentication = await Promise.race([this.authenticateOnce(request), closed]);
      } finally {
        this.checks.delete(revoked);
      }
      if (authentication === 'closed' || this.refusing()) return shuttingDown;
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
    for (const revoked of this.checks.keys()) revoked.add(principal);
  }

  /** Refuses every connection from now on, those being authenticated at once. Idempotent. */
  close(): void {
    this.closed = true;
    for (const end of this.checks.values()) end();
  }

  private refusing(): boolean {
    return this.closed || this.options.closing?.() === true;
  }

  private async authenticateOnce(request: IncomingMessage): Promise<HookAnswer<Principal>> {
    try {
      return await this.options.authenticate({
        headers: request.headers,
        remoteAddress: request.socket.remoteAddress,
      });
    } catch (error) {
      this.options.logError(error);
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
