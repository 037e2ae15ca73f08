import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ControlPlane, type ControlPlaneOptions, type RunRequest } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import type { Workflow } from '../../src/workflow/model.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

/** The request of every test run: workflow `w`, workspace /tmp, no vars or secrets. */
export const runRequest: RunRequest = {
  workflowName: 'w',
  workspace: '/tmp',
  actor: 't',
  vars: {},
  secrets: {},
  envOverrides: {},
};

/** Parses a whole workflow file; throws its diagnostics when it does not parse. */
export function parsedWorkflow(yaml: string): Workflow {
  const parsed = parseWorkflow(yaml, 'w.yml');
  if (!parsed.workflow) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

/** A workflow of the given `jobs:` block, indented by two spaces per job. */
export const jobsWorkflow = (jobs: string): Workflow => parsedWorkflow(`jobs:\n${jobs}`);

/** One job `a` on label `x` with one `true` step; `extra` adds job keys (each line indented by 4). */
export const oneJobWorkflow = (extra = ''): Workflow =>
  jobsWorkflow(`  a:\n    runs-on: x\n${extra}    steps: [{ run: "true" }]\n`);

export interface OpenedPlane {
  readonly plane: ControlPlane;
  readonly stores: Stores;
  /** Every event the plane emitted, in order. */
  readonly events: RunEvent[];
}

/**
 * Registers an afterEach that closes every plane's store and removes its directory, and returns a
 * function that opens a ControlPlane on a new SQLite file. Call it in a describe block.
 */
export function planesOnSqlite(prefix: string): (options?: ControlPlaneOptions) => OpenedPlane {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return (options = {}) => {
    const dir = mkdtempSync(join(tmpdir(), `valkyrie-${prefix}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const stores = openSqliteStores(join(dir, 'state.db'));
    cleanups.push(() => stores.close());
    const events: RunEvent[] = [];
    const plane = new ControlPlane(stores, options);
    // Before its store closes (cleanups run last first): a delayed job's wake-up (kept alive, up to a
    // retry's delay away) would otherwise outlive the test and dispatch on a closed store.
    cleanups.push(() => plane.close());
    plane.onEvent((event) => events.push(event));
    return { plane, stores, events };
  };
}

/**
 * Registers an afterEach that closes every control plane handed to the returned function (which
 * returns it): after-hooks run last first, so call it after registering the stores' own, whose close
 * must come after the planes' (their timers would otherwise fire on a closed store).
 */
export function closedAfterEach(): <P extends ControlPlane>(plane: P) => P {
  const planes: ControlPlane[] = [];
  afterEach(async () => {
    for (const plane of planes.splice(0)) await plane.close();
  });
  return (plane) => {
    planes.push(plane);
    return plane;
  };
}

/**
 * Waits in real time (store writes, Postgres notifications) until `check` holds: up to `tries` checks
 * `everyMs` apart (3 s by default); throws naming `what` when it never does.
 */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  { tries = 300, everyMs = 10 }: { readonly tries?: number; readonly everyMs?: number } = {},
): Promise<void> {
  for (let tried = 0; tried < tries; tried++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`never: ${what}`);
}

export type Answer = (
  message: ControlMessage,
  send: (message: RunnerMessage) => void,
  close: () => void,
) => void;

/** A runner driven by the test: it answers what it is sent as told. */
export function scriptedRunner(plane: ControlPlane, answer: Answer): void {
  const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
  plane.connect(control);
  runner.onMessage((message) =>
    answer(
      message,
      (reply) => runner.send(reply),
      () => runner.close('connection reset'),
    ),
  );
  runner.send({ type: 'register', version: 1, runner: { name: 'r', labels: ['x'], capacity: 1 } });
}
