import { mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, statuses, Workspace } from './cli.js';
import {
  callApi,
  killAll,
  type StartedProcess,
  type StartedServer,
  startFleet,
  startProcess,
} from './fleet-processes.js';

/**
 * A workspace bundle damaged on the server's disk (cut short, as a power loss before the file was
 * written out leaves it) heals as a content-addressed store's object should: the job that meets it
 * says so, the server drops the copy as it sends it, and the next submit uploads it anew; a PUT of
 * the right bytes replaces a damaged copy. Every part is a real process, the damage a real truncate.
 */
const admin = 'vkt-e2e-admin-token-damaged-bundle-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let submitToken = '';
const bundlesDir = () => join(ws.dir, '.valkyrie', 'server', 'bundles');

/** `valkyrie submit project/ci.yml --follow --json`, with the project as the workspace, to its end. */
const submitFollowed = () => {
  const follow = startProcess(
    ws,
    ['submit', 'project/ci.yml', '--workspace', 'project', '--follow', '--json'],
    { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: submitToken },
  );
  processes.push(follow);
  return follow.done;
};

/** The statuses of the matrix's two legs. */
const legs = (stdout: string) => Object.values(statuses(stdout));

/** What a runner says of a job whose bundle the server sent damaged. */
const damagedCopy =
  /^the runner could not run the job: the server's stored copy of the workspace bundle of job \S+ is damaged: the workspace bundle's sha256 is [0-9a-f]{64}, expected [0-9a-f]{64}; it was not unpacked\. The server removes such a copy once it has sent it: submit the run again, which uploads the bundle anew$/;
/** ... and of one whose bundle the server had removed by the time it asked. */
const removedCopy =
  /^the runner could not run the job: .*VK_BUNDLE_NOT_FOUND: the workspace bundle of job \S+ is no longer stored \(unused past the bundle retention, or found damaged and removed\): submit the run again, which uploads it anew/;

/** The one bundle the server stores, with its path. */
const storedBundle = () => {
  const names = readdirSync(bundlesDir()).filter((name) => name.endsWith('.tar.gz'));
  expect(names).toHaveLength(1);
  const name = names[0] ?? '';
  return { sha256: name.slice(0, 64), path: join(bundlesDir(), name) };
};

beforeAll(async () => {
  mkdirSync(join(ws.dir, 'project'));
  writeFileSync(join(ws.dir, 'project', 'data.bin'), Buffer.alloc(300_000, 'valkyrie '));
  writeFileSync(
    join(ws.dir, 'project', 'ci.yml'),
    'name: ci\njobs:\n  build:\n    runs-on: self-hosted\n    strategy:\n      fail-fast: false\n      matrix:\n        leg: [1, 2]\n    steps:\n      - run: wc -c < data.bin\n',
  );
  const fleet = await startFleet(ws, processes, admin, 'damaged');
  server = fleet.server;
  submitToken = await fleet.token('submit');
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('a workspace bundle damaged on the server', () => {
  it('fails its job saying so, is dropped by the server, and is uploaded again by the next submit', async () => {
    const first = await submitFollowed();
    expect(legs(first.stdout), first.stderr).toEqual(['succeeded', 'succeeded']);
    const { sha256, path } = storedBundle();
    truncateSync(path, Math.floor(statSync(path).size / 2));

    const damaged = await submitFollowed();
    expect(damaged.stderr).toContain('already on the server');
    expect(legs(damaged.stdout), damaged.stderr).toEqual(['failed', 'failed']);
    const reasons = events(damaged.stdout)
      .filter((event) => event.type === 'job.completed')
      .map((event) => String(event.reason));
    // The leg that fetched first met the damaged copy; the other met it too, or found it removed.
    expect(reasons.filter((reason) => damagedCopy.test(reason)).length, reasons.join('\n')).toBeGreaterThan(
      0,
    );
    for (const reason of reasons)
      expect([damagedCopy.test(reason), removedCopy.test(reason)]).toContain(true);
    expect(server.stderr()).toContain(`the stored copy of bundle ${sha256} is damaged`);
    const head = await callApi(server.url, submitToken, 'HEAD', `/api/v1/bundles/${sha256}`);
    expect(head.status).toBe(404);

    const healed = await submitFollowed();
    expect(healed.stderr).toMatch(/bundle [0-9a-f]{12} of .*: uploaded/);
    expect(legs(healed.stdout), healed.stderr).toEqual(['succeeded', 'succeeded']);
    expect(storedBundle().sha256).toBe(sha256);
  }, 90_000);

  it('is replaced by a PUT of the right bytes, which answers 201', async () => {
    const stored = await submitFollowed();
    expect(legs(stored.stdout), stored.stderr).toEqual(['succeeded', 'succeeded']);
    const { sha256, path } = storedBundle();
    const whole = readFileSync(path);
    truncateSync(path, 100);
    const put = await fetch(`${server.url}/api/v1/bundles/${sha256}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${submitToken}`, 'content-type': 'application/gzip' },
      body: whole,
    });
    expect(put.status).toBe(201);
    expect(readFileSync(path).equals(whole)).toBe(true);
    const again = await submitFollowed();
    expect(legs(again.stdout), again.stderr).toEqual(['succeeded', 'succeeded']);
  }, 60_000);
});
