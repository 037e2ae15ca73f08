import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { orAfter } from '../core/race-timeout.js';
import { openEvents, runningJob, startTestServer } from './helpers.js';

// docs/replicas.md: a server gives up the runs it drives when a store write fails, and another replica
// (or this one) takes them over once their heartbeat is stale. The clients of a run given up must not
// wait on this server for events that will never come: their streams are cut, and they reconnect.

const dir = mkdtempSync(join(tmpdir(), 'valkyrie-given-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('the event streams of a run its server gave up after a failed store write end at once, without run.completed', async () => {
  const path = join(dir, 'poisoned.db');
  const stores = openSqliteStores(path);
  const raw = new Database(path);
  raw.exec(`CREATE TRIGGER refuse_poison BEFORE INSERT ON log_lines WHEN NEW.text LIKE '%poison%'
            BEGIN SELECT RAISE(ABORT, 'a poison value'); END;`);
  raw.close();
  const notices: string[] = [];
  const server = await startTestServer({
    stores,
    takeoverIntervalMs: 60_000,
    logNotice: (line) => notices.push(line),
    logError: () => {},
  });
  const { runId, runner, log } = await runningJob(server);
  const stream = await openEvents(
    `${server.server.url}/api/v1/runs/${runId}/events`,
    await server.token('read'),
  );
  log('poison');
  const types: string[] = [];
  const ended = (async () => {
    for (let event = await stream.next(); event !== undefined; event = await stream.next())
      types.push((event[1] as { type: string }).type);
    return 'ended';
  })();
  const outcome = await orAfter(ended, 3_000, 'still open');
  stream.close();
  runner.transport.close();
  expect(notices).toEqual([
    expect.stringMatching(new RegExp(`^stopped driving run ${runId}: a store write failed`)),
  ]);
  // Before, it stayed open (keep-alives only) until a takeover by this same server, if ever.
  expect(outcome).toBe('ended');
  expect(types).not.toContain('run.completed');
}, 20_000);
