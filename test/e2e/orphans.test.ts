import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { isAlive as alive, readPid } from './process-state.js';

describe.skipIf(process.platform !== 'linux')(
  'processes a job leaves running in a session of their own',
  () => {
    const ws = new Workspace();
    const kept: number[] = [];
    afterAll(() => {
      for (const pid of kept) if (alive(pid)) process.kill(pid, 'SIGKILL');
      ws.dispose();
    });

    it('are stopped when the job ends, as GitHub’s runner does, but for one started with the mark cleared', async () => {
      const file = ws.write(
        'daemons.yml',
        `jobs:
  serve:
    runs-on: ubuntu-latest
    steps:
      - run: setsid sh -c 'echo $$ > daemon.pid; exec sleep 47' > /dev/null 2>&1 < /dev/null &
      - run: RUNNER_TRACKING_ID= setsid sh -c 'echo $$ > kept.pid; exec sleep 48' > /dev/null 2>&1 < /dev/null &
      # The daemons write their pids themselves (setsid may fork): wait for the files.
      - run: while [ ! -s daemon.pid ] || [ ! -s kept.pid ]; do sleep 0.05; done
`,
      );
      const result = await ws.run(['run', file, '--json']);
      expect(result.code).toBe(0);
      const daemon = readPid(join(ws.dir, 'daemon.pid')) ?? 0;
      const keptPid = readPid(join(ws.dir, 'kept.pid')) ?? 0;
      kept.push(daemon, keptPid);
      // valkyrie run has exited: its last sweep ran then.
      expect(alive(daemon)).toBe(false);
      expect(alive(keptPid)).toBe(true);
    });
  },
);
