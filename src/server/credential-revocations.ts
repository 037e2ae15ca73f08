import { PeriodicTask } from '../core/periodic-task.js';
import type { TokenStore } from '../store/tokens.js';

/**
 * A runner protocol endpoint (WebSocket or long-poll acceptor), by the credential ids it accepted;
 * or the API's open event streams, by the ids of the tokens they were opened with (StreamSessions).
 */
export interface CredentialSessions {
  /** The credentials that have a session open here. */
  principals(): Set<string>;
  /**
   * Ends at once every session of `credentialId` with VK_CREDENTIAL_REVOKED, `why` (without the code)
   * as the reason; how many it ended. A runner protocol endpoint also checks again the connections
   * it is authenticating that its hook accepts as `credentialId`.
   */
  revoke(credentialId: string, why: string): number;
}

/** What the control plane of this replica does with the leases of a runner whose credential was revoked. */
export interface RevokedRunnerLeases {
  /** The runner, its sessions here closed, loses the jobs it held leases on here. */
  runnerRevoked(runnerId: string, why: string): void;
  /** The runners that left this replica holding leases still current, which they may come back to resume. */
  runnersWithDetachedLeases(): readonly string[];
}

/**
 * Ends the runner protocol sessions of revoked credentials (and the event streams of revoked API
 * tokens, StreamSessions), so that a runner whose credential is
 * revoked gets no further offer and cannot report again, whichever replica it is connected to. The
 * replica that revokes a credential ends its sessions at once (`revoked`), and has the connections
 * it is authenticating with it checked again (ConnectionAdmission). Every `intervalMs` each
 * replica also asks the store, in one read, which of the credentials it holds sessions or leases of
 * are revoked, and ends theirs: a revocation made on another replica reaches a runner within one
 * interval and that read, as does one that raced with the runner's connecting here. Unanswered
 * offers go back to the queue, as for a dropped connection; the jobs the runner held leases on here
 * follow `on-runner-lost:` at once, where a dropped connection's wait out their TTL for the runner to
 * come back. Lifecycle: `start()` once; `stop()` (idempotent) before the store closes.
 */
export class CredentialRevocations {
  private readonly polls: PeriodicTask;

  constructor(
    private readonly tokens: TokenStore,
    private readonly endpoints: () => readonly CredentialSessions[],
    /** Removes the runner of a revoked credential (its id) from the fleet's list. */
    private readonly forgetRunner: (runnerId: string) => Promise<void>,
    private readonly leases: RevokedRunnerLeases,
    intervalMs: number,
    logError: (error: unknown) => void,
  ) {
    this.polls = new PeriodicTask(() => this.sweep(), intervalMs, logError);
  }

  start(): void {
    this.polls.start();
  }

  stop(): Promise<void> {
    return this.polls.stop();
  }

  /**
   * `credentialId` was revoked just now: ends its sessions here, and the jobs its runner held leases
   * on here follow their `on-runner-lost:` policy at once; how many sessions there were.
   */
  revoked(credentialId: string): number {
    const why = `credential ${credentialId} was revoked`;
    let ended = 0;
    for (const endpoint of this.endpoints()) ended += endpoint.revoke(credentialId, why);
    this.leases.runnerRevoked(credentialId, why);
    return ended;
  }

  /** Ends the sessions here of credentials revoked anywhere; resolves with those credentials. */
  async sweep(): Promise<string[]> {
    // A runner's id is its credential's: one that left holding leases is checked as one connected is.
    const held = new Set<string>(this.leases.runnersWithDetachedLeases());
    for (const endpoint of this.endpoints()) for (const id of endpoint.principals()) held.add(id);
    if (held.size === 0) return [];
    const revoked = [...(await this.tokens.revoked([...held]))];
    for (const id of revoked) this.revoked(id);
    // The replica that revoked it removed the row; a poll here may have written it back since.
    for (const id of revoked) await this.forgetRunner(id);
    return revoked;
  }
}
