import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { messageOf } from '../../../core/error-message.js';
import { stepOutputHold } from '../output-hold.js';
import type { LaunchRequest, LaunchSink, OutputStream } from './protocol.js';

/**
 * How long output is still read after the process exited. Normally its pipes close with it; when
 * a background child (`server &`) inherited them they never close, and the step must not wait for
 * that child, which lives on until cleanup.
 */
export const drainGraceMs = 200;

/** A process whose output is still being read; `pause()` makes it block on its next write. */
export interface LaunchedProcess {
  pause(): void;
  resume(): void;
}

/**
 * Starts `request` in its own process group with piped stdout/stderr and reports its life to
 * `sink` (see `LaunchSink` for the order). Runs in the spawner process, and in the engine when it
 * spawns in-process; imports nothing beyond node:child_process so the spawner stays small.
 * Never throws. Returns undefined when the process did not start.
 */
export function launchProcess(request: LaunchRequest, sink: LaunchSink): LaunchedProcess | undefined {
  let child: ChildProcess;
  try {
    child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: request.env,
      // Own process group, so every signal reaches whatever the step started too.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    reportFailure(sink, error);
    return undefined;
  }
  const pid = child.pid;
  if (pid === undefined) {
    // Node reports ENOENT and EACCES as an 'error' event on the next tick, with no pid.
    child.once('error', (error) => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      reportFailure(sink, error);
    });
    return undefined;
  }
  sink.spawned(pid);
  return new OutputReader(child, sink);
}

function reportFailure(sink: LaunchSink, error: unknown): void {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : undefined;
  sink.failed(code, messageOf(error));
}

/**
 * Forwards one running process's output and exit, then `drained()` once both streams are done.
 * Exported for tests; `launchProcess` makes one for each process it starts.
 */
export class OutputReader implements LaunchedProcess {
  private openStreams = 0;
  private hasExited = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private isDrained = false;
  private readonly unfollowHold: () => void;

  constructor(
    private readonly child: ChildProcess,
    private readonly sink: LaunchSink,
  ) {
    child.once('exit', (code, signal) => this.onExit(code, signal));
    // After a successful spawn, 'error' only reports a failed child.kill(), which is never called;
    // without a listener an 'error' event would crash the process.
    child.on('error', () => {});
    this.read(child.stdout, 'stdout');
    this.read(child.stderr, 'stderr');
    this.unfollowHold = stepOutputHold.follow(this);
  }

  pause(): void {
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  resume(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  private read(stream: Readable | null, name: OutputStream): void {
    if (stream === null) return;
    this.openStreams += 1;
    stream.on('data', (chunk: Buffer) => {
      if (!this.isDrained) this.sink.output(name, chunk, Date.now());
    });
    stream.once('close', () => {
      this.openStreams -= 1;
      if (this.openStreams === 0 && this.hasExited) this.drained();
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.hasExited = true;
    this.sink.exited(code, signal);
    if (this.openStreams === 0) {
      this.drained();
      return;
    }
    // A paused stream would sit out the grace unread; what is in the pipe should still arrive.
    this.resume();
    this.drainTimer = setTimeout(() => setImmediate(() => this.abandon()), drainGraceMs);
  }

  /**
   * The grace is over: the streams are given up. Not in the timer's own callback but after the I/O
   * poll that follows it (setImmediate): an event loop held up past the grace (a synchronous write
   * to a full stdout pipe, a busy machine) runs its due timers before it reads the pipes, so the
   * output the process wrote before it exited, still in the pipe, was dropped — a job's whole log,
   * now and then, under load (test/e2e/slow-stdout).
   */
  private abandon(): void {
    if (this.isDrained) return;
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.drained();
  }

  private drained(): void {
    if (this.isDrained) return;
    this.isDrained = true;
    this.unfollowHold();
    clearTimeout(this.drainTimer);
    this.sink.drained();
  }
}
