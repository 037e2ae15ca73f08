/**
 * How a long-poll client's queue treats a message it sends (LongPollConnectOptions.laneOf):
 * - `urgent`: goes ahead of every queued message that is not, in the order urgent ones were sent —
 *   a lease renewal must not wait behind a job's log backlog, or the lease expires while it waits.
 * - `ordered`: leaves in the order sent, among the ordered and droppable ones.
 * - `droppable`: ordered, but once more than the queue's `maxQueuedBytes` wait, the oldest of them
 *   may be dropped unsent — never the newest of its `group`, so that a later one of the group always
 *   follows a drop (a runner's numbered lines: the control plane sees the gap in their numbers).
 */
export type SendLane =
  | { readonly kind: 'urgent' }
  | { readonly kind: 'ordered' }
  | { readonly kind: 'droppable'; readonly group: string };

export interface OutgoingLimits {
  /** A batch holds at most this many bytes (with its envelope), but always at least one message. */
  readonly maxBatchBytes: number;
  /**
   * Once more than this many bytes wait to be sent (not in flight), droppable messages go until half
   * of it is left: one long gap rather than one after every batch posted.
   */
  readonly maxQueuedBytes: number;
}

/** Above this many bytes waiting, droppable messages go: a backlog no server takes soon enough. */
export const defaultMaxQueuedBytes = 16 * 1024 * 1024;

/** Room a batch leaves for its envelope, `{"v":1,"seq":N,"messages":[…]}`. */
const envelopeBytes = 64;

interface Waiting {
  readonly json: string;
  readonly bytes: number;
  /** The group of a droppable message; undefined for an ordered one. */
  readonly group: string | undefined;
}

/** What a dropped message was: its group and size. */
export interface Dropped {
  readonly group: string;
  readonly bytes: number;
}

/** A batch to POST: messages numbered from `first`, in order. */
export interface OutgoingBatch {
  readonly first: number;
  readonly jsons: readonly string[];
}

/**
 * The client end's outgoing messages: two lanes waiting (urgent, then the rest), and the batch in
 * flight. Sequence numbers are given when a batch is formed, not when a message is sent, so that an
 * urgent message can leave ahead of others and the numbers on the wire stay contiguous; a batch keeps
 * its numbers until acknowledged, so a POST retried after a network failure is deduplicated by the
 * server.
 *
 * Lifecycle: `push` any time → `next()` gives the batch to post (the same one again until
 * `acknowledged` covers it) → `acknowledged(ack)` after each answer; `pending()` and `clear()` when the
 * session ends.
 */
export class OutgoingQueue {
  private readonly urgent: Waiting[] = [];
  private rest: Waiting[] = [];
  /** Of the droppable messages in `rest`, how many wait per group. */
  private readonly groups = new Map<string, number>();
  private inFlight: { first: number; jsons: string[] } | undefined;
  private nextSeq = 1;
  private restBytes = 0;
  private droppedCount = 0;

  constructor(
    private readonly limits: OutgoingLimits,
    /** Told of each message dropped, as it goes. */
    private readonly onDropped?: (dropped: Dropped) => void,
  ) {}

  push(json: string, lane: SendLane): void {
    const bytes = Buffer.byteLength(json);
    if (lane.kind === 'urgent') {
      this.urgent.push({ json, bytes, group: undefined });
      return;
    }
    const group = lane.kind === 'droppable' ? lane.group : undefined;
    this.rest.push({ json, bytes, group });
    this.restBytes += bytes;
    if (group !== undefined) this.groups.set(group, (this.groups.get(group) ?? 0) + 1);
    if (this.restBytes > this.limits.maxQueuedBytes) this.dropOldest();
  }

  /** The batch to post: the one in flight until acknowledged, else a new one; undefined when none waits. */
  next(): OutgoingBatch | undefined {
    if (this.inFlight !== undefined) return this.inFlight;
    const jsons: string[] = [];
    let bytes = envelopeBytes;
    const fits = (entry: Waiting | undefined): entry is Waiting =>
      entry !== undefined && (jsons.length === 0 || bytes + entry.bytes + 1 <= this.limits.maxBatchBytes);
    for (let entry = this.urgent[0]; fits(entry); entry = this.urgent[0]) {
      this.urgent.shift();
      jsons.push(entry.json);
      bytes += entry.bytes + 1;
    }
    for (let entry = this.rest[0]; fits(entry); entry = this.rest[0]) {
      this.takeRest();
      jsons.push(entry.json);
      bytes += entry.bytes + 1;
    }
    if (jsons.length === 0) return undefined;
    this.inFlight = { first: this.nextSeq, jsons };
    this.nextSeq += jsons.length;
    return this.inFlight;
  }

  /** The server has every message up to `ack`: those of the batch in flight go (all: it is done with). */
  acknowledged(ack: number): void {
    const batch = this.inFlight;
    if (batch === undefined) return;
    const taken = ack - batch.first + 1;
    if (taken >= batch.jsons.length) this.inFlight = undefined;
    else if (taken > 0) this.inFlight = { first: ack + 1, jsons: batch.jsons.slice(taken) };
  }

  /**
   * Everything not acknowledged: the batch in flight, then the urgent lane, then the rest. Ordered
   * and droppable messages keep their order among themselves.
   */
  pending(): string[] {
    return [
      ...(this.inFlight?.jsons ?? []),
      ...this.urgent.map((entry) => entry.json),
      ...this.rest.map((entry) => entry.json),
    ];
  }

  /** Forgets everything waiting and in flight (the session ended). */
  clear(): void {
    this.inFlight = undefined;
    this.urgent.length = 0;
    this.rest = [];
    this.groups.clear();
    this.restBytes = 0;
  }

  /** Bytes of ordered and droppable messages waiting (not in flight). */
  get queuedBytes(): number {
    return this.restBytes;
  }

  /** How many messages were dropped so far. */
  get dropped(): number {
    return this.droppedCount;
  }

  private takeRest(): void {
    const entry = this.rest.shift();
    if (entry === undefined) return;
    this.restBytes -= entry.bytes;
    if (entry.group !== undefined) this.leaveGroup(entry.group);
  }

  private leaveGroup(group: string): void {
    const left = (this.groups.get(group) ?? 1) - 1;
    if (left === 0) this.groups.delete(group);
    else this.groups.set(group, left);
  }

  /** Drops the oldest droppable messages that are not their group's newest, down to half the cap. */
  private dropOldest(): void {
    const drop = new Set<number>();
    const target = Math.floor(this.limits.maxQueuedBytes / 2);
    for (let i = 0; i < this.rest.length && this.restBytes > target; i++) {
      const group = this.rest[i]?.group;
      if (group === undefined || (this.groups.get(group) ?? 0) < 2) continue;
      const bytes = this.rest[i]?.bytes ?? 0;
      drop.add(i);
      this.restBytes -= bytes;
      this.leaveGroup(group);
      this.droppedCount++;
      this.onDropped?.({ group, bytes });
    }
    if (drop.size > 0) this.rest = this.rest.filter((_, index) => !drop.has(index));
  }
}
