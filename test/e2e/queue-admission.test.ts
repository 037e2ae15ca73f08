import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/sqlite/driver.js';
import { describeOnPostgres, dropSchema, urlWithNewSchema } from '../store/postgres-server.js';
import { type CliResult, collect, events, Workspace } from './cli.js';
import { waitFor } from './process-state.js';

/**
 * A `valkyrie run` that would be a duplicate (its idempotency key is taken) or is refused for the
 * queue's capacity changes nothing: it must not join its workflow's concurrency group, where it would
 * replace the waiting run or cancel the running one. Runs are held by gate files the test creates.
 */
describeAdmission('duplicate and refused submissions leave the concurrency group alone (SQLite)', []);

describeOnPostgres('on Postgres', () => {
  const { url, schema } = urlWithNewSchema();
  afterAll(() => dropSchema(schema));
  describeAdmission('duplicate and refused submissions leave the concurrency group alone (Postgres)', [
    '--db',
    url,
  ]);
});

interface RunRow {
  readonly id: string;
  readonly status: string;
}

function describeAdmission(title: string, dbArgs: readonly string[]): void {
  describe(title, () => {
    const ws = new Workspace();
    afterAll(() => ws.dispose());
    const lines = (name: string) =>
      existsSync(join(ws.dir, name))
        ? readFileSync(join(ws.dir, name), 'utf8').split('\n').filter(Boolean)
        : [];

    /**
     * Each run writes `<tag> start` to `<group>.log`, waits for `<group>.open`, then writes `<tag> done`.
     * It stops waiting when the workspace is removed too, so that no run outlives a failed test.
     */
    function workflow(group: string, concurrency: string): string {
      return ws.write(
        `${group}.yml`,
        `name: ${group}
concurrency: ${concurrency}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "\${{ vars.tag }} start" >> ${group}.log
          while [ ! -f ${group}.open ] && [ -d ${ws.dir} ]; do sleep 0.05; done
          echo "\${{ vars.tag }} done" >> ${group}.log
`,
      );
    }
    const start = (file: string, tag: string, ...args: string[]): Promise<CliResult> =>
      collect(ws.start(['run', file, '--var', `tag=${tag}`, ...dbArgs, ...args]));
    const run = (file: string, tag: string, ...args: string[]) =>
      ws.run(['run', file, '--var', `tag=${tag}`, ...dbArgs, ...args]);
    const startedAll = (group: string, tags: readonly string[]) =>
      waitFor(
        () => tags.every((tag) => lines(`${group}.log`).includes(`${tag} start`)),
        15_000,
        `${tags.join(', ')} to start`,
      );

    it('a retry with the key of the running run does not cancel it under cancel-in-progress', async () => {
      const file = workflow('cip', '{ group: cip, cancel-in-progress: true }');
      const original = start(file, 'orig', '--idempotency-key', 'REL-1');
      try {
        await startedAll('cip', ['orig']);
        // A retry is the same request: another --var would be another one (VK_IDEMPOTENCY_CONFLICT).
        const retry = await run(file, 'orig', '--idempotency-key', 'REL-1', '--json');
        expect(retry.stderr).toContain('it is still running (in another process). Nothing new was started.');
        expect(events(retry.stdout)).toEqual([
          { type: 'run.duplicate', runId: expect.any(String), runNumber: 1, status: 'running' },
        ]);
        expect(retry.code).toBe(0);
      } finally {
        ws.write('cip.open', '');
      }
      const done = await original;
      expect(done.stderr).not.toContain('Cancelling');
      expect(done.code).toBe(0);
      expect(lines('cip.log')).toEqual(['orig start', 'orig done']);
    });

    it('a retry with the key of a run still waiting for the group returns that run, and does not replace it', async () => {
      const file = workflow('wait', '{ group: wait }');
      const holder = start(file, 'holder');
      let original: Promise<CliResult> | undefined;
      try {
        await startedAll('wait', ['holder']);
        const first = ws.start([
          'run',
          file,
          '--var',
          'tag=orig',
          '--idempotency-key',
          'K',
          '--json',
          ...dbArgs,
        ]);
        let output = '';
        first.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
        });
        original = collect(first);
        await waitFor(() => output.includes('"state":"waiting"'), 15_000, 'the keyed run to wait');
        // The waiting run has its record, which the duplicate names.
        const waitingId = events(output.slice(0, output.lastIndexOf('\n') + 1)).find(
          (event) => event.type === 'concurrency',
        )?.runId;
        expect(waitingId).toEqual(expect.any(String));
        const retry = await run(file, 'orig', '--idempotency-key', 'K', '--json');
        expect(retry.stderr).toContain(
          `run ${String(waitingId)} of wait (#2) was already submitted with idempotency key "K"; it is still queued, waiting for concurrency group wait (in another process)`,
        );
        expect(events(retry.stdout)).toEqual([
          { type: 'run.duplicate', runId: waitingId, runNumber: 2, status: 'queued', group: 'wait' },
        ]);
        expect(retry.code).toBe(0);
      } finally {
        ws.write('wait.open', '');
      }
      expect((await holder).code).toBe(0);
      expect((await original)?.code).toBe(0);
      expect(lines('wait.log')).toEqual(['holder start', 'holder done', 'orig start', 'orig done']);
    });

    it('of two submissions with one key made at once while the group is busy, one waits and the other returns it', async () => {
      const file = workflow('twin', '{ group: twin }');
      const holder = start(file, 'holder');
      try {
        await startedAll('twin', ['holder']);
        const submit = () =>
          collect(
            ws.start(['run', file, '--var', 'tag=twin', '--idempotency-key', 'T', '--json', ...dbArgs]),
          );
        const twins = [submit(), submit()];
        // The duplicate ends at once; the other waits for the holder.
        const duplicate = await Promise.race(twins);
        expect(duplicate.code).toBe(0);
        const queued = (JSON.parse((await ws.run(['runs', '--json', ...dbArgs])).stdout) as RunRow[]).filter(
          (listed) => listed.status === 'queued',
        );
        expect(queued).toHaveLength(1);
        // Its place in the group may not be recorded yet when the duplicate reads it: no `group` asked.
        expect(events(duplicate.stdout)).toMatchObject([
          { type: 'run.duplicate', runId: queued[0]?.id, runNumber: 2, status: 'queued' },
        ]);
        ws.write('twin.open', '');
        expect((await Promise.all(twins)).map((twin) => twin.code)).toEqual([0, 0]);
      } finally {
        ws.write('twin.open', '');
      }
      expect((await holder).code).toBe(0);
      expect(lines('twin.log').filter((line) => line.endsWith(' start'))).toHaveLength(2);
    });

    it('a run refused with VK_QUEUE_FULL does not cancel the running run of its group', async () => {
      const file = workflow('full', '{ group: full, cancel-in-progress: true }');
      const original = start(file, 'orig');
      try {
        await startedAll('full', ['orig']);
        const refused = await run(file, 'new', '--queue-capacity', '1');
        expect(refused.stderr).toContain('VK_QUEUE_FULL');
        expect(refused.code).toBe(75);
      } finally {
        ws.write('full.open', '');
      }
      const done = await original;
      expect(done.stderr).not.toContain('Cancelling');
      expect(done.code).toBe(0);
      expect(lines('full.log')).toEqual(['orig start', 'orig done']);
    });
  });
}

describe('a duplicate of an interrupted run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('says it is interrupted, how to resume it, and exits 1', async () => {
    const file = ws.write(
      'long.yml',
      `name: long\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "while [ ! -f open ] && [ -d ${ws.dir} ]; do sleep 0.05; done" }]\n`,
    );
    const child = ws.start(['run', file, '--idempotency-key', 'kk']);
    const ended = collect(child);
    try {
      // Interrupted as `valkyrie runs` tells it: once its owner is recorded and the process is gone.
      const listed = async () =>
        JSON.parse((await ws.run(['runs', '--json'])).stdout) as { id: string; interrupted?: boolean }[];
      for (let tries = 0; (await listed()).length === 0; tries++) {
        if (tries > 200) throw new Error('the run was not stored');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill('SIGKILL');
      await ended;
      for (let tries = 0; (await listed())[0]?.interrupted !== true; tries++) {
        if (tries > 200) throw new Error('the run was not listed as interrupted');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const again = await ws.run(['run', file, '--idempotency-key', 'kk']);
      expect(again.stderr).toContain(
        'it was interrupted (the process running it is gone). Nothing new was started; continue it with: valkyrie resume 1',
      );
      expect(again.stderr).not.toContain('still running');
      expect(again.code).toBe(1);
      const json = await ws.run(['run', file, '--idempotency-key', 'kk', '--json']);
      expect(events(json.stdout)).toEqual([
        { type: 'run.duplicate', runId: '1', runNumber: 1, status: 'running', interrupted: true },
      ]);
      expect(json.code).toBe(1);
    } finally {
      // The killed run's step is an orphan: let it end.
      ws.write('open', '');
    }
  });
});

describe('an idempotency key taken by a run of another workflow', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is refused with VK_IDEMPOTENCY_CONFLICT and exit 2, not reported as that run', async () => {
    const step = (name: string) =>
      `name: ${name}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo ${name} >> ran.txt" }]\n`;
    const first = ws.write('first.yml', step('first'));
    const other = ws.write('other.yml', step('other'));
    expect((await ws.run(['run', first, '--idempotency-key', 'k1'])).code).toBe(0);
    const conflict = await ws.run(['run', other, '--idempotency-key', 'k1']);
    expect(conflict.stderr).toContain(
      'VK_IDEMPOTENCY_CONFLICT: idempotency key "k1" belongs to run 1 of first (#1), not to a run of other; nothing was started',
    );
    expect(conflict.code).toBe(2);
    const json = await ws.run(['run', other, '--idempotency-key', 'k1', '--json']);
    expect(events(json.stdout)).toEqual([
      { type: 'run.refused', code: 'VK_IDEMPOTENCY_CONFLICT', runId: '1', runNumber: 1, workflow: 'first' },
    ]);
    expect(json.code).toBe(2);
    // The same workflow is still a duplicate.
    expect((await ws.run(['run', first, '--idempotency-key', 'k1'])).stderr).toContain('it succeeded');
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('first\n');
  });
});

describe('an idempotency key used for another request of the same workflow', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is refused with VK_IDEMPOTENCY_CONFLICT and exit 2; a key stored without a fingerprint still matches', async () => {
    const step = (text: string) =>
      `name: same\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo ${text}-\${{ vars.v }} >> ran.txt" }]\n`;
    const file = ws.write('same.yml', step('one'));
    expect((await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=1'])).code).toBe(0);
    const otherVar = await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=2']);
    // It names what differs from the key's run's request, as that run stored it for a resume.
    expect(otherVar.stderr).toBe(
      'valkyrie: VK_IDEMPOTENCY_CONFLICT: idempotency key "k2" was used for another request, run 1 of same (#1): ' +
        'this one differs in --var; nothing was started. Use a new key for a new request\n',
    );
    expect(otherVar.code).toBe(2);
    const args = ['--idempotency-key', 'k2', '--var', 'v=1', '--priority', 'high', '--secret', 'S=x'];
    const otherFlags = await ws.run(['run', file, ...args]);
    expect(otherFlags.stderr).toContain('differs in --secret names and --priority (high, was normal);');
    ws.write('same.yml', step('two'));
    const otherText = await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=1', '--json']);
    expect(events(otherText.stdout)).toEqual([
      { type: 'run.refused', code: 'VK_IDEMPOTENCY_CONFLICT', runId: '1', runNumber: 1, workflow: 'same' },
    ]);
    expect(otherText.stderr).toContain("this one differs in the workflow file's text;");
    expect(otherText.code).toBe(2);
    // The same request again (the file as it was) is a retry: the run is reported, nothing runs.
    ws.write('same.yml', step('one'));
    const retry = await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=1']);
    expect(retry.stderr).toContain('was already submitted with idempotency key "k2"; it succeeded');
    expect(retry.code).toBe(0);
    // A key's run without recovery data (an older Valkyrie's): every part that counts is named.
    const db = new Database(join(ws.dir, '.valkyrie', 'valkyrie.db'));
    db.prepare('UPDATE runs SET run_request = NULL').run();
    const unknown = await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=2']);
    expect(unknown.stderr).toContain(
      'differs in the workflow file, --var, --input, --env, --secret names, --event, --job, --matrix or --priority;',
    );
    // A key stored before fingerprints were: only the workflow is compared, as then.
    db.prepare('UPDATE runs SET idempotency_fingerprint = NULL').run();
    db.close();
    const legacy = await ws.run(['run', file, '--idempotency-key', 'k2', '--var', 'v=3']);
    expect(legacy.stderr).toContain('was already submitted with idempotency key "k2"; it succeeded');
    expect(legacy.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('one-1\n');
  });
});

describe('an idempotency key with the same request spelled another way', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is a retry: the file as ./file, --event as the default event, --job in another order or repeated', async () => {
    ws.write(
      'spelled.yml',
      'name: spelled\non: [push, workflow_dispatch]\njobs:\n' +
        '  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo a >> ran.txt" }]\n' +
        '  b:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo b >> ran.txt" }]\n',
    );
    const first = await ws.run(['run', 'spelled.yml', '--idempotency-key', 'k1', '--job', 'a', '--job', 'b']);
    expect(first.code).toBe(0);
    for (const again of [
      ['./spelled.yml', '--job', 'a,b'],
      [join(ws.dir, 'spelled.yml'), '--job', 'b', '--job', 'a'],
      ['spelled.yml', '--event', 'push', '--job', 'b,a,b'],
    ]) {
      const [file = '', ...rest] = again;
      const retry = await ws.run(['run', file, '--idempotency-key', 'k1', ...rest]);
      expect(retry.stderr).toContain('was already submitted with idempotency key "k1"; it succeeded');
      expect(retry.code).toBe(0);
    }
    // The events differ: another request.
    const dispatch = await ws.run([
      'run',
      'spelled.yml',
      '--idempotency-key',
      'k1',
      '--job',
      'a,b',
      '--event',
      'workflow_dispatch',
    ]);
    expect(dispatch.stderr).toContain('VK_IDEMPOTENCY_CONFLICT');
    expect(dispatch.code).toBe(2);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8').split('\n').sort().join('')).toBe('ab');
  });
});
