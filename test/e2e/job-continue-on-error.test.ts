import { afterAll, describe, expect, it } from 'vitest';
import { logLines, statuses, summary, Workspace } from './cli.js';

/**
 * Job-level `continue-on-error`, as GitHub applies it: it lets a job's failure pass (the run goes on
 * and succeeds, `needs.<id>.result` reads `success`: actions/runner#1161, actions/toolkit#581) while
 * the job itself still shows as failed; it does not cover a job its `timeout-minutes` stopped, which
 * GitHub cancels and whose `cancelled` leaks past continue-on-error (evoila/meho#2800, #2865).
 */
describe('job-level continue-on-error', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('does not cover a job its timeout-minutes stopped: needs reads cancelled and the run fails', async () => {
    const file = ws.write(
      'timed-out.yml',
      `jobs:
  slow:
    runs-on: ubuntu-latest
    continue-on-error: true
    timeout-minutes: 0.01
    steps:
      - run: sleep 30
  after:
    needs: slow
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "slow=\${{ needs.slow.result }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(statuses(result.stdout)).toEqual({ slow: 'timed_out', after: 'succeeded' });
    expect(logLines(result.stdout, 'after')).toEqual(['slow=cancelled']);
    expect(summary(result.stdout).status).toBe('failed');
    expect(result.code).toBe(1);
  });
});
