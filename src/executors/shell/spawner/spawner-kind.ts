import type { ChildProcess } from 'node:child_process';
import type { LaunchRequest, SpawnerMessage, SpawnerRequest } from './protocol.js';

/**
 * The engine's connection to one spawner process: how requests reach it and its messages come back.
 * `SpawnerProcess` owns the process's lifecycle; a channel only carries the messages.
 */
export interface SpawnerChannel {
  readonly child: ChildProcess;
  /** False once requests can no longer reach the process. */
  readonly isOpen: boolean;
  /** Sends a batch of requests in one write. Failures surface as the process closing. */
  send(batch: readonly SpawnerRequest[]): void;
  /** Whether the channel keeps the engine's event loop alive; it starts referenced. */
  setRef(referenced: boolean): void;
}

/** One way of running a spawner: the Node spawner (spawner-main.ts), or a script one in libexec/. */
export interface SpawnerKind {
  /** Names the process in messages, e.g. "the process spawner". */
  readonly label: string;
  /**
   * Why this spawner cannot run on this machine (not built, no interpreter, one too old), or
   * undefined when it can.
   */
  missing(): string | undefined;
  /**
   * False for a request this spawner cannot carry, which the engine then spawns itself: only
   * requests that Node's spawn() rejects before forking, so the outcome is the same either way.
   */
  carries(request: LaunchRequest): boolean;
  /**
   * Starts a spawner process, delivering its messages in batches to `onMessages`. Only called
   * when `missing()` is undefined. May throw only if the process could not be spawned at all.
   */
  open(onMessages: (batch: readonly SpawnerMessage[]) => void): SpawnerChannel;
}
