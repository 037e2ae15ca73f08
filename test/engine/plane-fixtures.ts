import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { type Clock, systemClock, type TimerHandle } from '../../src/core/clock.js';
import { ControlPlane, type ControlPlaneOptions, type RunRequest } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
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
    const clock = timersCancelledLater(options.clock ?? systemClock);
    // A plane has no close(): a delayed job's wake-up (kept alive, up to a retry's delay away) would
    // otherwise outlive the test and dispatch on closed stores while the worker's next files run.
    cleanups.push(clock.cancelAll);
    const events: RunEvent[] = [];
    const plane = new ControlPlane(stores, { ...options, clock });
    plane.onEvent((event) => events.push(event));
    return { plane, stores, events };
  };
}

/** `clock`, with a `cancelAll` that cancels every timer set through it that has not fired yet. */
function timersCancelledLater(clock: Clock): Clock & { cancelAll(): void } {
  const pending = new Set<TimerHandle>();
  return {
    now: () => clock.now(),
    setTimer(callback, delayMs, options) {
      const handle: TimerHandle = clock.setTimer(
        () => {
          pending.delete(handle);
          callback();
        },
        delayMs,
        options,
      );
      pending.add(handle);
      return handle;
    },
    cancelAll() {
      for (const handle of pending) handle.cancel();
      pending.clear();
    },
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
