import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, logLines, statuses, Workspace } from './cli.js';
import {
  createToken,
  killAll,
  type StartedProcess,
  startConnectedRunner,
  startServer,
  startSubmit,
} from './fleet-processes.js';

/**
 * A job that prints faster than the control plane takes its lines, on a runner that speaks HTTP
 * long-poll only, under a short lease: the renewals must not queue behind the line backlog (they did,
 * the lease expired, the job was requeued, again and again, and the runner grew past a GiB). Every
 * line the job printed is in its log, or counted in a line saying how many are missing.
 */
const admin = 'vkt-e2e-admin-token-long-poll-flood-0123456';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let serverUrl = '';
let submitToken = '';
let runner: StartedProcess | undefined;

const printed = 600_000;

beforeAll(async () => {
  const server = await startServer(ws, ['--lease-ttl', '2s'], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  serverUrl = server.url;
  submitToken = await createToken(serverUrl, admin, 'submit');
  const registration = await createToken(serverUrl, admin, 'runner');
  runner = await startConnectedRunner(ws, processes, serverUrl, registration, 'flood', [
    '--protocol',
    'http',
  ]);
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('a job flooding its log over long-poll', () => {
  it('completes on its first attempt under a 2 s lease, every line stored or counted missing', async () => {
    ws.write(
      'flood.yml',
      `name: flood\njobs:\n  flood:\n    runs-on: self-hosted\n    steps:\n      - run: seq 1 ${printed}\n`,
    );
    const follow = startSubmit(ws, processes, serverUrl, submitToken, 'flood.yml', ['--no-bundle']);
    // Without the fix the job is requeued for ever: it is given 90 s, several times what it needs on a
    // loaded 2-core machine (15 s alone, 30 s beside other tests).
    const timer = setTimeout(() => follow.child.kill(), 90_000);
    const result = await follow.done.finally(() => clearTimeout(timer));
    const attempts = events(result.stdout).filter((event) => event.type === 'job.started');
    expect(attempts).toHaveLength(1);
    expect(result.code, result.stderr).toBe(0);
    expect(statuses(result.stdout)).toEqual({ flood: 'succeeded' });
    const lines = logLines(result.stdout, 'flood');
    expect(lines.filter((line) => /lease expired|stale/.test(line))).toEqual([]);
    let missing = 0;
    let stored = 0;
    for (const line of lines) {
      const gap = /^(\d+) lines? of output (?:is|are) missing here/.exec(line);
      if (gap) missing += Number(gap[1]);
      else if (/^\d+$/.test(line)) stored++;
    }
    expect(stored + missing).toBe(printed);
    // The newest line is never dropped.
    expect(lines).toContain(String(printed));
    // Not asserted: how many are dropped depends on the machine's speed (none on a fast one).
    console.log(`stored ${stored}, missing ${missing}; runner: ${runner?.stderr()}`);
  }, 120_000);
});
