import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunnerCapabilities } from '../../src/protocol/messages.js';
import { Workspace } from './cli.js';
import {
  adminApi,
  killAll,
  type StartedProcess,
  startProcess,
  startServerForRunners,
  until,
} from './fleet-processes.js';

const admin = 'vkt-e2e-odd-capabilities-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

interface Listed {
  readonly name: string;
  readonly connected: boolean;
  readonly capabilities?: RunnerCapabilities;
}

/** `name` as an executable script in `bin` printing `output`. */
function fakeTool(bin: string, name: string, output: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\ncat <<'EOF'\n${output}\nEOF\n`);
  chmodSync(join(bin, name), 0o755);
}

/**
 * What `valkyrie runner` detects on an odd machine (a tool printing a long version, 100 GPUs with
 * long names) is fitted to the protocol's bounds before it is sent: were it sent as detected, the
 * server would refuse the register (the runner exits) or a later `capabilities` message (it exits
 * mid-session), and a restarted runner would detect and be refused the same again.
 */
describe('valkyrie runner on a machine whose detection is past the protocol bounds', () => {
  it('registers, refreshes and stays connected, its capabilities fitted and listed', async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes);
    const bin = join(ws.dir, 'odd-bin');
    mkdirSync(bin, { recursive: true });
    fakeTool(bin, 'git', `git version 2.39.5-${'a'.repeat(300)}`);
    const gpus = Array.from({ length: 100 }, (_, i) => `NVIDIA ${String(i).padEnd(300, 'X')}, 15360 MiB`);
    fakeTool(bin, 'nvidia-smi', gpus.join('\n'));
    const runner = startProcess(
      ws,
      [
        'runner',
        '--server',
        server.url,
        '--token',
        registration,
        '--name',
        'odd',
        '--work-dir',
        'runner-odd',
      ],
      { PATH: `${bin}:${process.env.PATH ?? ''}`, VALKYRIE_CAPABILITY_REFRESH: '200ms' },
    );
    processes.push(runner);
    const api = adminApi(server.url, admin);
    const listed = async () =>
      (await api<{ runners: Listed[] }>('GET', '/api/v1/runners')).runners.find((one) => one.name === 'odd');
    // Two refreshes after the first detection: each went in a `capabilities` message mid-session.
    const seen = new Set<number>();
    const last = await until('two capability refreshes of the runner', async () => {
      if (runner.child.exitCode !== null) return 'exited';
      const odd = await listed();
      if (odd?.connected === true && odd.capabilities !== undefined) seen.add(odd.capabilities.detectedAt);
      return seen.size >= 3 ? odd : undefined;
    });
    expect(runner.child.exitCode, runner.stderr()).toBeNull();
    if (last === 'exited') throw new Error('unreachable: the runner exited');
    expect(last?.connected).toBe(true);
    const capabilities = last?.capabilities;
    expect(capabilities?.gpus).toHaveLength(64);
    expect(capabilities?.gpus[0]).toEqual({ name: `NVIDIA 0${'X'.repeat(247)}…`, memoryMiB: 15360 });
    expect(capabilities?.gpus[63]?.name).toHaveLength(256);
    expect(capabilities?.tools.git).toBe(`2.39.5-${'a'.repeat(92)}…`);
    expect(runner.stderr()).not.toMatch(/closed the connection/);
  }, 60_000);
});
