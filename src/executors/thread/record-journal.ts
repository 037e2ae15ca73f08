import { decodePayload, encodePayload, undefinedTag } from './journal-codec.js';

/**
 * A worker's records that are decided but not yet posted (results, STARTED), copied into memory
 * the pool shares with the worker, so they outlive the worker's heap.
 *
 * Records are batched: the worker posts them at the end of a turn of its event loop, and task
 * code runs in between — the next task of a group started from one message, or a continuation of
 * a running task. When that code blocks the thread (a busy loop, an allocation past
 * resourceLimits) the pool terminates the worker and its held records die with it; the pool then
 * reads them here instead. Posting each record at once would close the same gap at a message per
 * task (measured earlier: no-op synchronous tasks at about a quarter of their throughput).
 *
 * One writer (the worker), one reader (the pool, only when it gives the worker up). Layout:
 * Int32 [committed bytes, generation], then entries 8-byte aligned: kind (Uint8), payload bytes
 * (Uint32 at +4), task id (Float64 at +8), payload (journal-codec) at +16. The writer stores the
 * committed length after an entry's bytes, so a reader never sees half an entry; it bumps the
 * generation before it reuses the space (after a post), so a reader that raced a live worker
 * reads again.
 */
const headerBytes = 8;
const entryHeaderBytes = 16;
export const journalBytes = 64 * 1024;

export function createJournalBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(headerBytes + journalBytes);
}

/** The worker's side: appends records and forgets them once they are posted. */
export class RecordJournalWriter {
  private readonly header: Int32Array;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private length = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, 2);
    this.view = new DataView(buffer, headerBytes);
    this.bytes = new Uint8Array(buffer, headerBytes);
  }

  /**
   * Keeps a record; false when it cannot (it does not fit, or its payload cannot be serialized):
   * the caller must then post it before any other task code runs.
   */
  append(kind: number, taskId: number, payload: unknown): boolean {
    const at = this.length;
    const payloadAt = at + entryHeaderBytes;
    if (payloadAt >= this.view.byteLength) return false;
    let end: number;
    if (payload === undefined) {
      // STARTED records and void tasks' results: the common case, without the codec's call.
      this.bytes[payloadAt] = undefinedTag;
      end = payloadAt + 1;
    } else {
      end = encodePayload(this.view, this.bytes, payloadAt, payload);
      if (end < 0) return false;
    }
    this.view.setUint8(at, kind);
    this.view.setUint32(at + 4, end - payloadAt, true);
    this.view.setFloat64(at + 8, taskId, true);
    this.length = (end + 7) & ~7;
    Atomics.store(this.header, 0, this.length);
    return true;
  }

  /** Everything appended so far has been posted. */
  clear(): void {
    if (this.length === 0) return;
    Atomics.add(this.header, 1, 1);
    this.length = 0;
    Atomics.store(this.header, 0, 0);
  }
}

/**
 * The pool's side: the records the worker kept and did not post, as flat (kind, taskId, payload)
 * triples like a BATCH message's. Best read once the thread stopped; from a live one it retries
 * while the worker is reusing the space, and returns nothing if the worker keeps doing so (then
 * it is posting, and its records arrive by message).
 */
export function readUnpostedRecords(buffer: SharedArrayBuffer): unknown[] {
  const header = new Int32Array(buffer, 0, 2);
  for (let attempt = 0; attempt < 3; attempt++) {
    const generation = Atomics.load(header, 1);
    const length = Atomics.load(header, 0);
    const copy = new Uint8Array(buffer, headerBytes, length).slice();
    if (Atomics.load(header, 1) === generation) return decode(new DataView(copy.buffer));
  }
  return [];
}

function decode(view: DataView): unknown[] {
  const records: unknown[] = [];
  let at = 0;
  while (at + entryHeaderBytes <= view.byteLength) {
    const payloadAt = at + entryHeaderBytes;
    const [payload] = decodePayload(view, payloadAt);
    records.push(view.getUint8(at), view.getFloat64(at + 8, true), payload);
    at = (payloadAt + view.getUint32(at + 4, true) + 7) & ~7;
  }
  return records;
}
