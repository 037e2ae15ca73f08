/**
 * Entry point of the spawner process: a small Node process that starts step processes for the
 * engine. fork() copies the page tables of the process calling it, so spawning from the engine
 * (tens of MB, growing with the run) blocks its main thread for milliseconds per step; here the
 * fork is cheap and happens on another core. Forked by `SpawnerProcess` with an IPC channel; it
 * exits when the channel closes, i.e. when the engine is gone, and stops the steps still running
 * first (stopStepsAndExit), those the engine started itself and handed over (`adopt`) included.
 *
 * Imports only node:child_process (through process-launch) and the protocol, to stay small.
 */
import { type LaunchedProcess, launchProcess } from './process-launch.js';
import {
  isGroupRequest,
  isSpawnRequest,
  type LaunchSink,
  Outbox,
  type OutputStream,
  type SpawnerMessage,
} from './protocol.js';

/**
 * Output read but not yet written to the engine. Past the high mark every step's pipes are paused,
 * so a step printing faster than the engine consumes blocks on write, as it would if the engine
 * read the pipe itself, instead of piling up here.
 */
const pauseAboveBytes = 1024 * 1024;
const resumeBelowBytes = 256 * 1024;

let unsentBytes = 0;
let paused = false;
const running = new Set<LaunchedProcess>();

const outbox = new Outbox<SpawnerMessage>((batch) => {
  let bytes = 0;
  for (const message of batch) if (message.type === 'output') bytes += message.data.length;
  if (!process.connected || process.send === undefined) return;
  process.send(batch, undefined, {}, () => {
    unsentBytes -= bytes;
    if (paused && unsentBytes < resumeBelowBytes) {
      paused = false;
      for (const launched of running) launched.resume();
    }
  });
}, setImmediate);

/** Process groups of the steps started here and not drained yet (each step leads its own). */
const groups = new Set<number>();
/**
 * Process groups of steps the engine started itself, handed over by `adopt` until `forget`. Apart
 * from `groups`: a forget that comes late must not drop a newer step of ours that got the number.
 */
const adopted = new Set<number>();

/** When the engine is gone: how long the steps' groups have after SIGTERM, before SIGKILL. */
const stopGraceMs = 1000;

class ForwardingSink implements LaunchSink {
  launched: LaunchedProcess | undefined;
  private pid: number | undefined;

  constructor(private readonly id: number) {}

  spawned(pid: number): void {
    this.pid = pid;
    groups.add(pid);
    outbox.push({ type: 'spawned', id: this.id, pid });
  }

  failed(code: string | undefined, message: string): void {
    outbox.push({ type: 'failed', id: this.id, code, message });
  }

  output(stream: OutputStream, data: Buffer, at: number): void {
    unsentBytes += data.length;
    if (!paused && unsentBytes > pauseAboveBytes) {
      paused = true;
      for (const launched of running) launched.pause();
    }
    outbox.push({ type: 'output', id: this.id, stream, data, at });
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    outbox.push({ type: 'exit', id: this.id, code, signal });
  }

  drained(): void {
    if (this.launched !== undefined) running.delete(this.launched);
    if (this.pid !== undefined) groups.delete(this.pid);
    outbox.push({ type: 'drained', id: this.id });
  }
}

function onRequests(batch: unknown): void {
  if (!Array.isArray(batch)) return;
  for (const request of batch as unknown[]) {
    if (isGroupRequest(request)) {
      if (request.type === 'adopt') adopted.add(request.pgid);
      else adopted.delete(request.pgid);
    }
    if (!isSpawnRequest(request)) continue;
    const sink = new ForwardingSink(request.id);
    const launched = launchProcess(request, sink);
    if (launched === undefined) continue;
    sink.launched = launched;
    running.add(launched);
    if (paused) launched.pause();
  }
}

/**
 * The engine is gone. Its steps would run on with nobody to report to, beside the copy of the job
 * that a resumed run, or another runner once the lease expires, starts again; so every step's process
 * group gets SIGTERM, and SIGKILL once the grace runs out (or at once when all are gone).
 */
let stopping = false;
function stopStepsAndExit(): void {
  if (stopping) return;
  stopping = true;
  for (const group of adopted) groups.add(group);
  const signalAll = (signal: NodeJS.Signals | 0) => {
    for (const group of groups) {
      try {
        process.kill(-group, signal);
      } catch {
        groups.delete(group); // ESRCH: no member left
      }
    }
  };
  signalAll('SIGTERM');
  const deadline = Date.now() + stopGraceMs;
  const check = setInterval(() => {
    signalAll(0);
    if (groups.size > 0 && Date.now() < deadline) return;
    clearInterval(check);
    signalAll('SIGKILL');
    process.exit(0);
  }, 10);
}

process.title = 'valkyrie-spawner';
process.on('message', onRequests);
// The engine exited or closed the channel, or sent SIGTERM as it exited: nobody is left to report to.
process.once('disconnect', stopStepsAndExit);
process.once('SIGTERM', stopStepsAndExit);
outbox.push({ type: 'ready' });
