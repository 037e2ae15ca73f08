import type { ServerResponse } from 'node:http';
import { errorCodeHeader } from '../../core/errors.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { ProtocolError } from '../frame.js';
import { errorBody, statusHeaders } from '../handshake.js';
import { messageJson } from '../message-json.js';
import { protocolVersion } from '../messages.js';
import {
  type CloseInfo,
  credentialRevokedReason,
  protocolCloseInfo,
  TransportEnd,
} from '../transport-end.js';

/** Sent to the client with its last batch when the server ends the session. */
export interface SessionEnd {
  readonly code: string;
  readonly reason: string;
}

const credentialRevoked = 'VK_CREDENTIAL_REVOKED';

/** The HTTP status of a request to a session that has ended: 401 once its credential was revoked. */
export function endedStatus(end: SessionEnd): 401 | 410 {
  return end.code === credentialRevoked ? 401 : 410;
}

interface Parked {
  readonly response: ServerResponse;
  readonly timer: TimerHandle;
}

/**
 * The server end of one long-poll session, as a Transport. Outgoing messages get sequence numbers
 * from 1 and stay in the outbox until the client acknowledges them on a later poll, so a response
 * lost on the way is sent again. Incoming batches carry the client's sequence numbers; ones already
 * delivered are skipped, so a client retrying a POST whose response it lost causes no duplicates.
 * At most one poll is parked at a time; a newer poll answers the older one empty.
 */
export class LongPollSession<Out, In> extends TransportEnd<Out, In> {
  private readonly outbox: { readonly seq: number; readonly json: string; readonly bytes: number }[] = [];
  private nextSeq = 1;
  private receivedSeq = 0;
  private parked: Parked | undefined;
  private replyScheduled = false;
  private sessionEnd: SessionEnd | undefined;
  private lastActivity: number;

  constructor(
    readonly id: string,
    private readonly clock: Clock,
    private readonly holdMs: number,
    private readonly maxBatchBytes: number,
  ) {
    super();
    this.lastActivity = clock.now();
  }

  send(message: Out): void {
    if (this.sessionEnd !== undefined) return;
    const json = messageJson(message);
    this.outbox.push({ seq: this.nextSeq++, json, bytes: Buffer.byteLength(json) });
    // Messages sent in one tick leave in one response.
    if (this.parked === undefined || this.replyScheduled) return;
    this.replyScheduled = true;
    queueMicrotask(() => {
      this.replyScheduled = false;
      this.answerParked();
    });
  }

  close(reason = 'closed'): void {
    this.endWith({ kind: 'local', reason }, { code: 'VK_CLOSED', reason });
  }

  /** Ends the session so that the client reconnects (a server shutting down); `why` without the code. */
  goAway(why: string): void {
    this.endWith(
      { kind: 'local', reason: `VK_SHUTTING_DOWN: ${why}` },
      { code: 'VK_SHUTTING_DOWN', reason: why },
    );
  }

  /**
   * The credential the session was opened with was revoked: the session ends, what is queued for the
   * client is dropped, and every request of the session, a held poll included, is answered 401.
   */
  credentialRevoked(why: string): void {
    this.outbox.length = 0;
    this.endWith(
      { kind: 'local', reason: credentialRevokedReason(why) },
      { code: credentialRevoked, reason: why },
    );
  }

  /** The client sent something this end cannot accept; it learns why from the POST's response. */
  reject(error: ProtocolError): void {
    this.endWith(protocolCloseInfo(error), { code: error.code, reason: error.message });
  }

  /** The client deleted the session. */
  closedByClient(reason: string): void {
    this.endWith({ kind: 'remote', reason }, { code: 'VK_CLOSED', reason });
  }

  /** The client stopped polling for longer than the session TTL. */
  expire(ttlMs: number): void {
    const why = `the client did not poll for more than ${ttlMs} ms`;
    this.endWith(
      { kind: 'lost', reason: `VK_PEER_TIMEOUT: ${why}` },
      { code: 'VK_PEER_TIMEOUT', reason: why },
    );
  }

  get ended(): SessionEnd | undefined {
    return this.sessionEnd;
  }

  /** Idle since when, or undefined while a poll is parked (a parked poll is a live client). */
  idleSince(): number | undefined {
    return this.parked === undefined ? this.lastActivity : undefined;
  }

  touch(): void {
    this.lastActivity = this.clock.now();
  }

  /** Delivers a client batch starting at `seq`; returns the highest sequence number now received. */
  receive(seq: number, messages: readonly In[]): { kind: 'received'; ack: number } | { kind: 'gap' } {
    this.touch();
    if (seq > this.receivedSeq + 1) return { kind: 'gap' };
    for (const [index, message] of messages.entries()) {
      if (seq + index <= this.receivedSeq) continue;
      this.receivedSeq = seq + index;
      this.deliver(message);
    }
    return { kind: 'received', ack: this.receivedSeq };
  }

  /** A poll acknowledging everything up to `ack`: answered at once if there is news, else parked. */
  poll(ack: number, response: ServerResponse): void {
    this.touch();
    while (this.outbox.length > 0 && (this.outbox[0]?.seq ?? Number.POSITIVE_INFINITY) <= ack)
      this.outbox.shift();
    if (this.parked !== undefined) this.answer(this.parked, false);
    if (this.outbox.length > 0 || this.sessionEnd !== undefined) {
      this.respond(response);
      return;
    }
    const parked: Parked = {
      response,
      timer: this.clock.setTimeout(() => this.answer(parked, true), this.holdMs),
    };
    this.parked = parked;
    response.on('close', () => {
      if (this.parked !== parked) return;
      this.clock.clearTimeout(parked.timer);
      this.parked = undefined;
      this.touch();
    });
  }

  private endWith(info: CloseInfo, end: SessionEnd): void {
    if (this.sessionEnd !== undefined) return;
    this.sessionEnd = end;
    this.finish(info);
    this.answerParked();
  }

  private answerParked(): void {
    if (this.parked !== undefined) this.answer(this.parked, true);
  }

  private answer(parked: Parked, withNews: boolean): void {
    this.clock.clearTimeout(parked.timer);
    if (this.parked === parked) this.parked = undefined;
    this.touch();
    if (withNews) this.respond(parked.response);
    else respondJson(parked.response, 200, batchJson(this.nextSeq, [], undefined));
  }

  private respond(response: ServerResponse): void {
    if (this.sessionEnd?.code === credentialRevoked) {
      respondError(response, 401, this.sessionEnd.code, this.sessionEnd.reason);
      return;
    }
    const first = this.outbox[0]?.seq ?? this.nextSeq;
    const jsons: string[] = [];
    let bytes = 64;
    for (const entry of this.outbox) {
      if (jsons.length > 0 && bytes + entry.bytes + 1 > this.maxBatchBytes) break;
      jsons.push(entry.json);
      bytes += entry.bytes + 1;
    }
    // The end goes out only with the last of the outbox, so no message is lost behind it.
    const end = jsons.length === this.outbox.length ? this.sessionEnd : undefined;
    respondJson(response, 200, batchJson(first, jsons, end));
  }
}

function batchJson(seq: number, jsons: readonly string[], end: SessionEnd | undefined): string {
  const closed = end === undefined ? '' : `,"closed":${JSON.stringify(end)}`;
  return `{"v":${protocolVersion},"seq":${seq},"messages":[${jsons.join(',')}]${closed}}`;
}

/**
 * An error answer: `{code, message}`, and the code in errorCodeHeader too, as every error of the API
 * carries it (a client tells the server's own 404 or 503 from a proxy's by it).
 */
export function respondError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  respondJson(response, status, errorBody(code, message), { ...headers, [errorCodeHeader]: code });
}

export function respondJson(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...statusHeaders(status),
    ...headers,
  });
  response.end(body);
}
