import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, valkyrieBin, Workspace } from './cli.js';
import { adminApi, killAll, type StartedProcess, startServerForRunners } from './fleet-processes.js';

const admin = 'vkt-e2e-runner-host-name-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

/** Sets the host name of a UTS namespace of its own (Python's sethostname takes any bytes), then runs the rest. */
const setHostName =
  'import os, socket, sys; socket.sethostname(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])';
const inOwnHost = (host: string, command: readonly string[]) => [
  ...['-Ur', '--uts', 'python3', '-c', setHostName, host],
  ...command,
];
const ownHostNames =
  spawnSync('unshare', inOwnHost('valkyrie-probe', ['true']), { stdio: 'ignore' }).status === 0;

/**
 * Without --name and with no name stored, `valkyrie runner` is named after its machine: a host name
 * no runner can have (blank, or with a control character; Linux allows both through sethostname(2))
 * is refused at start, naming --name, not by the server at registration. (One too long, which Linux
 * does not allow, is cut: test/cli/runner-options.test.ts.)
 */
describe.skipIf(!ownHostNames)('valkyrie runner named after a host name no runner can have', () => {
  let started: ReturnType<typeof startServerForRunners> | undefined;
  it.each([
    ['blank', '', 'blank'],
    ['with a control character', 'build\t01', 'control character'],
  ])(
    'refuses to start on a host whose name is %s, naming --name',
    async (_, host, fault) => {
      started ??= startServerForRunners(ws, admin, processes);
      const { server, registration } = await started;
      const work = join(ws.dir, `runner-${fault.replace(' ', '-')}`);
      const runner = spawn(
        'unshare',
        inOwnHost(host, [
          process.execPath,
          valkyrieBin,
          'runner',
          '--server',
          server.url,
          '--token',
          registration,
          '--work-dir',
          work,
        ]),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const result = await collect(runner);
      expect(result.stderr).toBe(
        `valkyrie: this machine's host name ${JSON.stringify(host)} cannot name a runner (${fault}); give it a name with --name\n`,
      );
      expect(result.code).toBe(2);
      expect(existsSync(work), 'the work dir, made before the name was refused').toBe(false);
      const { runners } = await adminApi(server.url, admin)<{ runners: unknown[] }>('GET', '/api/v1/runners');
      expect(runners).toEqual([]);
    },
    30_000,
  );
});
