import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import type { StaleWrite } from '../../src/store/stale-writes.js';
import { type StoresFactory, useStores } from './fixture.js';

const write = (overrides: Partial<StaleWrite> = {}): StaleWrite => ({
  jobId: asJobId('1-1'),
  fencingToken: 3,
  currentToken: 4,
  messageType: 'job.completed',
  at: 1_700_000_000_000,
  runnerId: 'f3a9c0d1e2b4',
  ...overrides,
});

/** The StaleWriteStore lifecycle every implementation must honour (a fresh, empty store per test). */
export function staleWriteStoreContract(make: StoresFactory): void {
  describe('stale writes', () => {
    const stores = useStores(make);
    const staleWrites = () => stores().staleWrites;

    it('lists nothing before anything is recorded', async () => {
      expect(await staleWrites().list()).toEqual([]);
      expect(await staleWrites().list({ jobId: asJobId('1-1') })).toEqual([]);
    });

    it('reads back every field in the order recorded, without waiting between records', async () => {
      const records = [
        write(),
        write({ messageType: 'log', fencingToken: 2 ** 40, currentToken: 2 ** 40 + 1, at: 2 }),
        write({ jobId: asJobId('1-2'), messageType: 'renew', at: 3, runnerId: 'another runner' }),
      ];
      await Promise.all(records.map((record) => staleWrites().record(record)));
      expect(await staleWrites().list()).toEqual(records);
    });

    it('keeps a write made when the job had no live lease (no current token)', async () => {
      const { currentToken: _, ...withoutCurrent } = write();
      await staleWrites().record(withoutCurrent);
      const [listed] = await staleWrites().list();
      expect(listed).toEqual(withoutCurrent);
      expect(listed && 'currentToken' in listed).toBe(false);
    });

    it('keeps the runner that sent each write, and leaves it out of a record made without one', async () => {
      const { runnerId: _, ...withoutRunner } = write({ at: 1 });
      await staleWrites().record(write({ at: 2, runnerId: 'r-east' }));
      await staleWrites().record(withoutRunner);
      const listed = await staleWrites().list();
      expect(listed.map((w) => w.runnerId)).toEqual(['r-east', undefined]);
      expect(listed[1] && 'runnerId' in listed[1]).toBe(false);
    });

    it("lists the writes of a run's jobs in one read, in the order recorded", async () => {
      const at = [1, 2, 3, 4, 5];
      const jobs = ['7.0', '8.0', '7.1', '7.0', '70.1'];
      for (const [i, jobId] of jobs.entries())
        await staleWrites().record(write({ jobId: asJobId(jobId), at: at[i] ?? 0 }));
      const ofRun = await staleWrites().list({ jobIds: [asJobId('7.0'), asJobId('7.1'), asJobId('7.2')] });
      expect(ofRun.map((w) => [w.jobId, w.at])).toEqual([
        ['7.0', 1],
        ['7.1', 3],
        ['7.0', 4],
      ]);
      expect(await staleWrites().list({ jobIds: [] })).toEqual([]);
    });

    it("lists one job's writes only when asked, for jobs the run store does not know", async () => {
      await staleWrites().record(write({ jobId: asJobId('9-1'), at: 1 }));
      await staleWrites().record(write({ jobId: asJobId('9-2'), at: 2 }));
      await staleWrites().record(write({ jobId: asJobId('9-1'), at: 3 }));
      const first = await staleWrites().list({ jobId: asJobId('9-1') });
      expect(first.map((w) => w.at)).toEqual([1, 3]);
      expect(await staleWrites().list({ jobId: asJobId('no-such-job') })).toEqual([]);
    });
  });
}
