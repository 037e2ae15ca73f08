import type { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunnerIdentity } from '../../src/engine/runner-view.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, ResumedLease, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';

export type Lease = Extract<ControlMessage, { type: 'lease' }>;

/** A runner driven by the test: it records what it is sent and answers as told. */
export class ScriptedRunner {
  readonly received: ControlMessage[] = [];
  readonly end: Transport<RunnerMessage, ControlMessage>;

  constructor(
    plane: ControlPlane,
    answer: (message: ControlMessage, runner: ScriptedRunner) => void,
    options: {
      labels?: string[];
      capacity?: number;
      /** The name it registers with; default `r`. */
      name?: string;
      identity?: RunnerIdentity;
      resume?: ResumedLease[];
      /** Sent on the connection before `register`. */
      early?: RunnerMessage[];
      /** Its `register` asks for `completions.stored`, as `valkyrie runner` does. */
      completionsStored?: boolean;
    } = {},
  ) {
    const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
    plane.connect(control, options.identity);
    this.end = runner;
    runner.onMessage((message) => {
      this.received.push(message);
      answer(message, this);
    });
    const runnerInfo = {
      name: options.name ?? 'r',
      labels: options.labels ?? ['x'],
      capacity: options.capacity ?? 1,
    };
    for (const message of options.early ?? []) runner.send(message);
    const resume = options.resume === undefined ? {} : { resume: options.resume };
    const acks = options.completionsStored === true ? { completionsStored: true } : {};
    runner.send({ type: 'register', version: 1, runner: runnerInfo, ...resume, ...acks });
  }

  send(message: RunnerMessage): void {
    this.end.send(message);
  }

  of<T extends ControlMessage['type']>(type: T): Extract<ControlMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ControlMessage, { type: T }> => m.type === type);
  }

  /** The `index`-th lease it was granted (0: the first); throws when it has not had that many. */
  lease(index = 0): Lease {
    const lease = this.of('lease')[index];
    if (!lease) throw new Error(`no lease ${index}: ${this.of('lease').length} granted`);
    return lease;
  }

  /** `at`: when the job ended by this runner's clock. */
  complete(
    lease: Lease,
    kind: 'succeeded' | 'failed' = 'succeeded',
    outputs: Record<string, string> = {},
    at = 1,
  ): void {
    const outcome = kind === 'succeeded' ? ({ kind } as const) : ({ kind, reason: 'step failed' } as const);
    this.send({
      type: 'job.completed',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken,
      outcome,
      outputs,
      at,
    });
  }
}

/** Accepts every offer; leases are kept for the test to finish. */
export function accepting(message: ControlMessage, runner: ScriptedRunner): void {
  if (message.type === 'offer') runner.send({ type: 'accept', jobId: message.jobId });
}

/** Accepts every offer and completes every lease at once, successfully. */
export function completing(message: ControlMessage, runner: ScriptedRunner): void {
  accepting(message, runner);
  if (message.type === 'lease') runner.complete(message);
}
