/**
 * What the engine and a spawner process say to each other. The Node spawner sends these over its
 * IPC channel ('advanced' serialization, so output travels as Buffers), every IPC message an array
 * of them batched by an `Outbox`; the script spawners' byte frames (script-frames.ts) decode into them.
 * This module is loaded by the Node spawner: keep it free of imports.
 *
 * Per request id the spawner sends, in this order: `spawned` or `failed`; then `output` (any
 * number) and `exit` in the order they happened; then `drained` last. After `failed` or
 * `drained` the id is never mentioned again.
 */

export type OutputStream = 'stdout' | 'stderr';

/** A process to start, as `child_process.spawn` needs it. */
export interface LaunchRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Receives the life of one launched process, in the order described above. In the engine this is
 * the step's supervisor; in the spawner it forwards each call over IPC.
 */
export interface LaunchSink {
  /** The process runs, leading its own process group `pid`. */
  spawned(pid: number): void;
  /** It never ran; `code` is the errno code (ENOENT, EACCES, …) when there is one. */
  failed(code: string | undefined, message: string): void;
  /** `at` is when the chunk was read, in epoch milliseconds. */
  output(stream: OutputStream, data: Buffer, at: number): void;
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  /**
   * Both streams closed, or were abandoned because a background process kept them open.
   * `groupGone` is true when the spawner found the process group empty by then (it stays empty:
   * nothing can join a group without members); false or absent when it did not look or found members.
   */
  drained(groupGone?: boolean): void;
}

/**
 * `spawn` starts a process. `adopt` hands the spawner the process group of a step the engine
 * started itself (see `InProcessGroups`), which it then stops with its own steps' groups when the
 * engine is gone; `forget` takes it back once that step has ended, before its number can be reused.
 * Neither has a reply. The script spawners' frames for all three: libexec/valkyrie-spawner.pl.
 */
export type SpawnerRequest =
  | ({ readonly type: 'spawn'; readonly id: number } & LaunchRequest)
  | { readonly type: 'adopt' | 'forget'; readonly pgid: number };

export type SpawnerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'spawned'; readonly id: number; readonly pid: number }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly code: string | undefined;
      readonly message: string;
    }
  | {
      readonly type: 'output';
      readonly id: number;
      readonly stream: OutputStream;
      readonly data: Buffer;
      readonly at: number;
    }
  | {
      readonly type: 'exit';
      readonly id: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    }
  | { readonly type: 'drained'; readonly id: number; readonly groupGone?: boolean };

/** Narrows one element of a batch the engine sent; the spawner ignores anything else. */
export function isSpawnRequest(value: unknown): value is Extract<SpawnerRequest, { type: 'spawn' }> {
  return typeof value === 'object' && value !== null && 'type' in value && value.type === 'spawn';
}

/** Narrows an `adopt` or `forget` request, as `isSpawnRequest` does a spawn. */
export function isGroupRequest(value: unknown): value is Extract<SpawnerRequest, { pgid: number }> {
  if (typeof value !== 'object' || value === null || !('type' in value) || !('pgid' in value)) return false;
  // Never 0 or 1 (or below): kill(-1) signals every process the spawner may signal.
  const { pgid } = value;
  return (
    (value.type === 'adopt' || value.type === 'forget') && Number.isSafeInteger(pgid) && Number(pgid) > 1
  );
}

/**
 * Collects messages and sends them as one array: everything pushed before `schedule` runs its
 * callback goes out in one IPC write instead of one write per message.
 */
export class Outbox<T> {
  private queued: T[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (batch: T[]) => void,
    private readonly schedule: (flush: () => void) => void,
  ) {}

  push(message: T): void {
    this.queued.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.flush);
  }

  /**
   * Sends `message` now, after whatever was pushed before it: for a message something waits on. A
   * step's spawn request pushed into the turn's batch went out only after the work queued ahead of
   * that microtask (the control plane's handling of the step's start, ~70 µs a step).
   */
  pushNow(message: T): void {
    this.queued.push(message);
    this.flush();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.send(batch);
  };
}
