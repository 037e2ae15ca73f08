import type { ChildProcess } from 'node:child_process';
import type { StepLaunchSink } from '../launcher.js';
import { launchProcess } from './process-launch.js';
import { type LaunchRequest, Outbox, type SpawnerMessage, type SpawnerRequest } from './protocol.js';
import type { SpawnerChannel, SpawnerKind } from './spawner-kind.js';

/** A spawner that has not said `ready` by then is killed and counts as dead. */
const startDeadlineMs = 10_000;

/**
 * The engine's end of one spawner process, of either kind (see SpawnerKind).
 *
 * Lifecycle: starting → ready → dead; dead is final, and `onDead` runs once when it is reached.
 * It never keeps the engine alive by itself: the process and its channel are unref'd, and the
 * channel is ref'd only while a request is in flight or someone waits for `whenReady()`.
 * It is killed when the engine exits, and exits by itself when the engine dies.
 */
export class SpawnerProcess {
  private readonly channel: SpawnerChannel;
  private readonly child: ChildProcess;
  private state: 'starting' | 'ready' | 'dead' = 'starting';
  private readonly pending = new Map<number, StepLaunchSink>();
  private nextId = 1;
  private waiters = 0;
  private referenced = true;
  private readonly outbox: Outbox<SpawnerRequest>;
  private readonly ready: Promise<boolean>;
  private settleReady: (ready: boolean) => void = () => {};
  private readonly startTimer: NodeJS.Timeout;

  /** Throws only if the process could not be spawned at all (see SpawnerKind.open). */
  constructor(
    private readonly kind: SpawnerKind,
    private readonly onDead: (spawner: SpawnerProcess) => void,
  ) {
    this.ready = new Promise((resolve) => {
      this.settleReady = resolve;
    });
    this.channel = kind.open(this.onMessages);
    this.child = this.channel.child;
    this.outbox = new Outbox((batch) => this.channel.send(batch), queueMicrotask);
    // Failed sends show up here too; what matters about them is reported by 'close'.
    this.child.on('error', (error) => {
      if (this.child.pid === undefined) this.die(`${kind.label} could not be started: ${error.message}`);
    });
    // 'close' comes after 'exit' and after every message the spawner wrote has been read.
    this.child.once('close', this.onClose);
    process.once('exit', this.killOnExit);
    this.child.unref();
    this.updateRef();
    this.startTimer = setTimeout(() => {
      if (this.state === 'starting') this.child.kill('SIGKILL');
    }, startDeadlineMs);
    this.startTimer.unref();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isReady(): boolean {
    return this.state === 'ready' && this.channel.isOpen;
  }

  get isDead(): boolean {
    return this.state === 'dead';
  }

  /** Resolves true once ready, false if it died first. Keeps the engine alive while waiting. */
  async whenReady(): Promise<boolean> {
    if (this.state !== 'starting') return this.isReady;
    this.waiters += 1;
    this.updateRef();
    try {
      return await this.ready;
    } finally {
      this.waiters -= 1;
      this.updateRef();
    }
  }

  /** Resolves as `whenReady()` does, but does not keep the engine alive: for those who only watch. */
  get readiness(): Promise<boolean> {
    return this.ready;
  }

  /**
   * Hands the spawner the process group of a step this process started itself: it stops that group
   * with its own steps' when the engine is gone, until `forget(pgid)`, which must come once the step
   * has ended (the number may be reused). Ignored unless ready; a spawner that dies drops them all.
   */
  adopt(pgid: number): void {
    if (this.isReady) this.outbox.push({ type: 'adopt', pgid });
  }

  forget(pgid: number): void {
    if (this.isReady) this.outbox.push({ type: 'forget', pgid });
  }

  /** Hands `request` to the spawner. A spawner that dies first reports the step `lost`. */
  launch(request: LaunchRequest, sink: StepLaunchSink): void {
    if (!this.isReady) {
      sink.failed(undefined, `${this.kind.label} is not running`);
      return;
    }
    if (!this.kind.carries(request)) {
      launchProcess(request, sink);
      return;
    }
    const id = this.nextId;
    this.nextId += 1;
    this.pending.set(id, sink);
    this.updateRef();
    const { command, args, cwd, env } = request;
    // Not batched behind the turn's queued work: the step's slot is idle until the spawner has it.
    this.outbox.pushNow({ type: 'spawn', id, command, args, cwd, env });
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  private readonly killOnExit = (): void => {
    this.child.kill('SIGTERM');
  };

  private readonly onMessages = (batch: readonly SpawnerMessage[]): void => {
    for (const message of batch) this.dispatch(message);
    this.updateRef();
  };

  private dispatch(message: SpawnerMessage): void {
    if (message.type === 'ready') {
      this.state = 'ready';
      clearTimeout(this.startTimer);
      this.settleReady(true);
      return;
    }
    const sink = this.pending.get(message.id);
    if (sink === undefined) return;
    switch (message.type) {
      case 'spawned':
        sink.spawned(message.pid);
        break;
      case 'failed':
        this.pending.delete(message.id);
        sink.failed(message.code, message.message);
        break;
      case 'output':
        sink.output(message.stream, message.data, message.at);
        break;
      case 'exit':
        sink.exited(message.code, message.signal);
        break;
      case 'drained':
        this.pending.delete(message.id);
        sink.drained(message.groupGone);
        break;
    }
  }

  private readonly onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
    const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
    this.die(`${this.kind.label} (pid ${this.child.pid ?? 'unknown'}) ${how}`);
  };

  private die(reason: string): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    clearTimeout(this.startTimer);
    process.removeListener('exit', this.killOnExit);
    this.settleReady(false);
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const sink of lost) sink.lost(reason);
    this.onDead(this);
  }

  private updateRef(): void {
    const busy = this.state !== 'dead' && (this.pending.size > 0 || this.waiters > 0);
    if (busy === this.referenced) return;
    this.referenced = busy;
    this.channel.setRef(busy);
    // The process too: when it dies its channel closes first, and with nothing else referenced the
    // engine would exit before hearing of the death that the waiter or the step is waiting for.
    if (busy) this.child.ref();
    else this.child.unref();
  }
}
