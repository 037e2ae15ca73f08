import type { ProtocolError, ProtocolErrorCode } from './frame.js';
import type { CertificateFailure } from './tls-certificate.js';
import type { Transport } from './transport.js';

/**
 * Why a network connection ended, as data. The auto client reconnects after `lost` only:
 * - `local`: this end called close().
 * - `remote`: the peer closed on purpose (normal close, or it rejected something we sent).
 * - `protocol`: this end received a frame it could not accept and closed the connection.
 * - `refused`: the server no longer accepts this end's credential: it revoked it during the session
 *   (`VK_CREDENTIAL_REVOKED`), or refused it (401/403) when a dropped connection tried to reconnect.
 *   Reconnecting will not help.
 * - `untrusted`: a reconnect found that the server's TLS certificate fails verification (it changed,
 *   or trust did). Reconnecting will not help.
 * - `lost`: the network dropped, the peer stopped answering keep-alives or polls, the session
 *   expired, or the server went away for a restart.
 */
export type CloseInfo =
  | { readonly kind: 'local'; readonly reason: string }
  | { readonly kind: 'remote'; readonly reason: string }
  | { readonly kind: 'protocol'; readonly code: ProtocolErrorCode; readonly reason: string }
  | { readonly kind: 'refused'; readonly code: string; readonly reason: string }
  | { readonly kind: 'untrusted'; readonly failure: CertificateFailure; readonly reason: string }
  | {
      readonly kind: 'lost';
      readonly reason: string;
      /** The peer said it is shutting down (WebSocket 1001, long-poll VK_SHUTTING_DOWN). */
      readonly goingAway?: boolean;
    };

/** How a connection whose credential was revoked closed, on either transport: reason text `CODE: why`. */
export function credentialRevokedReason(why: string): string {
  return `VK_CREDENTIAL_REVOKED: ${why}`;
}

/** Whether a connection closed because its credential was revoked (`credentialRevokedReason`). */
export function isCredentialRevokedReason(reason: string): boolean {
  return reason.startsWith(credentialRevokedReason(''));
}

/** How a connection that refused a frame (`error`) closed: reason text `CODE: message`. */
export function protocolCloseInfo(error: ProtocolError): Extract<CloseInfo, { kind: 'protocol' }> {
  return { kind: 'protocol', code: error.code, reason: `${error.code}: ${error.message}` };
}

/** A Transport over a network: the same contract, plus why it closed. */
export interface NetworkTransport<Out, In> extends Transport<Out, In> {
  readonly isClosed: boolean;
  /** Fires once, together with onClose, with the reason as data. */
  onCloseInfo(listener: (info: CloseInfo) => void): void;
  /**
   * When this end last heard from its peer (by its clock): the connection opening, a message, a
   * keep-alive answer, or a poll or send answered. Undefined where the end does not track it. A
   * connection that died unnoticed hears nothing more, so time after this may have been dead.
   */
  readonly heardAt: number | undefined;
}

/**
 * Listener bookkeeping shared by the network transports. Messages that arrive before the first
 * onMessage listener is registered are held and delivered (in order, a microtask later) once one
 * is, so a message sent right after the connection opens is never dropped. Closing fires the
 * listeners exactly once.
 */
export abstract class TransportEnd<Out, In> implements NetworkTransport<Out, In> {
  private readonly messageListeners: ((message: In) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private readonly closeInfoListeners: ((info: CloseInfo) => void)[] = [];
  private held: In[] | undefined = [];
  private flushScheduled = false;
  private closeInfo: CloseInfo | undefined;
  private lastHeardAt: number | undefined;

  abstract send(message: Out): void;
  abstract close(reason?: string): void;
  abstract reject(error: ProtocolError): void;

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  get heardAt(): number | undefined {
    return this.lastHeardAt;
  }

  /** The peer was heard from at `at` (see heardAt). */
  protected heard(at: number): void {
    this.lastHeardAt = at;
  }

  onMessage(listener: (message: In) => void): void {
    this.messageListeners.push(listener);
    if (this.held === undefined || this.flushScheduled) return;
    if (this.held.length === 0) {
      this.held = undefined;
      return;
    }
    this.flushScheduled = true;
    queueMicrotask(() => {
      const held = this.held ?? [];
      this.held = undefined;
      this.dispatch(held);
    });
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closeInfo !== undefined) listener(this.closeInfo.reason);
    else this.closeListeners.push(listener);
  }

  onCloseInfo(listener: (info: CloseInfo) => void): void {
    if (this.closeInfo !== undefined) listener(this.closeInfo);
    else this.closeInfoListeners.push(listener);
  }

  protected deliver(message: In): void {
    if (this.closeInfo !== undefined) return;
    if (this.held !== undefined) this.held.push(message);
    else for (const listener of this.messageListeners) listener(message);
  }

  /** Marks the end closed and fires the close listeners; later calls are ignored. */
  protected finish(info: CloseInfo): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = info;
    for (const listener of this.closeInfoListeners) listener(info);
    for (const listener of this.closeListeners) listener(info.reason);
  }

  private dispatch(messages: readonly In[]): void {
    for (const message of messages) {
      if (this.closeInfo !== undefined) return;
      for (const listener of this.messageListeners) listener(message);
    }
  }
}
