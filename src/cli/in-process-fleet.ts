import { ControlPlane } from '../engine/control-plane.js';
import type { RunEventListener } from '../engine/events.js';
import { inProcessPair } from '../protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../protocol/messages.js';
import { RunnerAgent } from '../runner/agent.js';
import type { HostDescription } from '../runner/host.js';
import { reportingShellExecutors } from '../runner/orphan-report.js';
import { inheritedEnvironment } from '../runner/step-environment.js';
import type { Stores } from '../store/store.js';
import { processTempRoot } from './run-temp-root.js';

/** Lines for the user about the in-process runner, among `valkyrie run`'s own. */
const warnOnStderr = (line: string): void => {
  process.stderr.write(`valkyrie: ${line}\n`);
};

/** The in-process runner's executors: what a job left behind and was stopped is said on stderr. */
const localExecutors = reportingShellExecutors(warnOnStderr);

export interface InProcessFleetOptions {
  readonly stores: Stores;
  readonly onEvent: RunEventListener;
  readonly agingIntervalMs: number | undefined;
  readonly host: HostDescription;
  /** The runner's labels: the host's and the run's extra ones. */
  readonly labels: readonly string[];
  /** The runner's capacity: how many jobs run at once (`--jobs`). */
  readonly concurrency: number;
  /** The state directory, which hashFiles() leaves out when it is in the workspace. */
  readonly stateDir: string;
}

/** Local mode's fleet: a control plane, and one runner in this process that takes its jobs. */
export interface InProcessFleet {
  readonly controlPlane: ControlPlane;
  /** Settles once the runner has registered (or its end closed first). */
  readonly registered: Promise<void>;
  /** Lets the runner finish what it runs, closes the control plane, then removes the runner's temp dirs. */
  stop(): Promise<void>;
}

/** Started as `valkyrie server` and `valkyrie runner` would be, joined by an in-process pair. */
export async function startInProcessFleet(options: InProcessFleetOptions): Promise<InProcessFleet> {
  const controlPlane = new ControlPlane(options.stores, { agingIntervalMs: options.agingIntervalMs });
  controlPlane.onEvent(options.onEvent);
  const [controlEnd, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
  controlPlane.connect(controlEnd);
  const temp = await processTempRoot(warnOnStderr);
  const agent = new RunnerAgent(runnerEnd, {
    info: { name: options.host.name, labels: options.labels, capacity: options.concurrency },
    host: options.host,
    createExecutor: localExecutors,
    tempRoot: temp.dir,
    stateDir: options.stateDir,
    baseEnv: inheritedEnvironment(process.env),
    warn: warnOnStderr,
    // It stops once its runs have ended: no lease is still to come for an offer it accepted.
    leaseWaitMs: 0,
  });
  const registered = new Promise<void>((resolve) => {
    runnerEnd.onMessage((message) => {
      if (message.type === 'registered') resolve();
    });
    runnerEnd.onClose(() => resolve());
  });
  agent.start();
  return {
    controlPlane,
    registered,
    stop: async () => {
      await agent.drain();
      await controlPlane.close();
      await temp.remove();
    },
  };
}
