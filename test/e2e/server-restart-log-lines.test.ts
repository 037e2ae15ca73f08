import { describe, expect, it } from 'vitest';
import { dbOnNewSchemas, postgresSkipReason } from '../store/postgres-server.js';
import { fleetsInOwnWorkspaces, until, untilFirstJobRuns, untilRunEnds } from './fleet-processes.js';

/**
 * A server is SIGKILLed while its runner's job prints as fast as it can: the batches of lines the
 * runner had handed to the socket, and those the server took but had not committed, died with it
 * before log acknowledgements (3 of 5 hand runs lost 5–8 lines). A new server on the same port and
 * store takes the run over; the runner resumes its lease there and sends again every line the store
 * did not acknowledge. The stored log must hold every numbered line exactly once, in order — over
 * WebSocket (`auto`) and long-poll (`--protocol http`, whose lost session's unacknowledged messages
 * go out again too), on SQLite and Postgres.
 */
const postgres = dbOnNewSchemas();
const fleets = fleetsInOwnWorkspaces('vkt-e2e-log-lines-admin-0123456789');

const sqlite = (): string[] => [];

const cases: [name: string, db: () => string[], protocol: string, skip?: string][] = [
  ['SQLite', sqlite, 'auto'],
  ['SQLite', sqlite, 'http'],
  ['Postgres', postgres, 'auto', postgresSkipReason],
  ['Postgres', postgres, 'http', postgresSkipReason],
];

const printed = 3_000;
const tail = 10;
// Lines of about 1 KiB, in bursts of 100, 10 ms apart: the runner sends full 64 KiB batches back to
// back for a second or so, so the kill (once line 600 is in the store) lands while some are on their
// way or not yet committed; the tail keeps the job running across the restart.
const padding = 'x'.repeat(1_000);
const script =
  `for b in $(seq 0 ${printed / 100 - 1}); do for i in $(seq $((b*100+1)) $((b*100+100))); do echo "line $i ${padding}"; done; sleep 0.01; done; ` +
  `for i in $(seq 1 ${tail}); do echo "tail $i"; sleep 0.1; done`;

if (postgresSkipReason !== undefined)
  console.warn(`Postgres: skipping the log-lines restart test: ${postgresSkipReason}`);

for (const [name, db, protocol, skip] of cases) {
  describe.skipIf(skip !== undefined)(`a server killed mid-output (${name}, --protocol ${protocol})`, () => {
    it('stores every line of the job exactly once, in order', async () => {
      const { first, runner, api, restart } = await fleets.startRestartable(db(), [
        ...['--labels', 'lines', '--protocol', protocol],
      ]);
      const workflow = `name: lines\njobs:\n  loud:\n    runs-on: lines\n    steps:\n      - run: '${script}'\n`;
      const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', { workflow });
      const runPath = `/api/v1/runs/${run.id}`;
      const jobId = await untilFirstJobRuns(api, runPath);
      const logPath = `${runPath}/logs?job=${jobId}`;
      await until('line 600 in the store', async () =>
        (await api<string>('GET', logPath)).includes('line 600 ') ? true : undefined,
      );
      first.child.kill('SIGKILL');
      await first.done;

      const second = await restart();
      const ended = await untilRunEnds(api, runPath);
      expect(ended.status, runner.stderr()).toBe('succeeded');
      const log = (await api<string>('GET', logPath)).split('\n');
      const numbered = log
        .filter((line) => line.startsWith('line '))
        .map((line) => line.slice(0, line.indexOf(' x')));
      const expected = Array.from({ length: printed }, (_, index) => `line ${index + 1}`);
      expect(describeDifference(numbered, expected), `${runner.stderr()}\n${second.stderr()}`).toBe('');
      const tails = log.filter((line) => line.startsWith('tail '));
      expect(tails).toEqual(Array.from({ length: tail }, (_, index) => `tail ${index + 1}`));
    });
  });
}

/** '' when equal; otherwise how many lines are missing and doubled, and the first place they differ. */
function describeDifference(actual: readonly string[], expected: readonly string[]): string {
  if (actual.length === expected.length && actual.every((line, index) => line === expected[index])) return '';
  const seen = new Map<string, number>();
  for (const line of actual) seen.set(line, (seen.get(line) ?? 0) + 1);
  const missing = expected.filter((line) => !seen.has(line)).length;
  const doubled = [...seen.values()].filter((count) => count > 1).length;
  const at = expected.findIndex((line, index) => actual[index] !== line);
  return `${actual.length} lines, ${missing} missing, ${doubled} stored more than once; first difference at ${at}: ${actual[at]}`;
}
