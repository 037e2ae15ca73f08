import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Workspace } from './cli.js';
import { waitFor } from './process-state.js';

export interface ListedRun {
  readonly id: string;
  readonly workflowName: string;
  readonly status: string;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly concurrency?: { readonly group: string; readonly state: string; readonly ahead?: number };
}

export interface ShownRun extends ListedRun {
  readonly jobs: readonly { readonly status: string; readonly reason?: string }[];
}

export interface GatedGroupRuns {
  /** Processes ended with SIGTERM after each test if still running. */
  readonly children: ChildProcess[];
  /** The file a run's step touches when it starts. */
  marker(name: string): string;
  /** Creates the gate file `gate`, letting the steps that wait for it end. */
  open(gate: string): void;
  started(name: string): Promise<void>;
  /** Writes `${group}.yml`: one job in concurrency group `group`, whose step waits for `vars.gate`. */
  workflow(group: string): string;
}

/**
 * Runs held by gate files, for tests of workflow concurrency groups: call inside a describe, which it
 * gives an afterEach. The gate `open` exists from the start. With `okLine`, the step then also needs
 * the file `vars.ok` (`test -f`), so a run can be made to fail.
 */
export function gatedGroupRuns(ws: Workspace, options: { readonly okLine?: boolean } = {}): GatedGroupRuns {
  // A run still waiting when a test fails has no step to notice the workspace gone: end it here.
  const children: ChildProcess[] = [];
  afterEach(async () => {
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    for (const child of running) child.kill('SIGTERM');
    await Promise.all(running.map((child) => new Promise((resolve) => child.once('close', resolve))));
    children.length = 0;
  });
  const marker = (name: string) => join(ws.dir, `${name}.start`);
  const open = (gate: string) => writeFileSync(join(ws.dir, gate), '');
  const started = (name: string) => waitFor(() => existsSync(marker(name)), 15_000, `${name} to start`);
  open('open');
  const okLine = options.okLine === true ? '          test -f ${{ vars.ok }}\n' : '';
  const workflow = (group: string): string =>
    ws.write(
      `${group}.yml`,
      `name: ${group}
concurrency: ${group}
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch \${{ vars.name }}.start
          while [ ! -f \${{ vars.gate }} ]; do [ -d "$GITHUB_WORKSPACE" ] || exit 1; sleep 0.05; done
${okLine}`,
    );
  return { children, marker, open, started, workflow };
}
