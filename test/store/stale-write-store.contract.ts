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
  ...overrides,
});

/** The StaleWriteStore lifecycle every implementation must honour (a fresh, empty store per test). */
export function staleWriteStoreContract(make: StoresFactory): void {
  const stores = useStores(make);
  const staleWrites = () => stores().staleWrites;

  describe('stale writes', () => {
    it('lists nothing before anything is recorded', async () => {
      expect(await staleWrites().list()).toEqual([]);
      expect(await staleWrites().list({ jobId: asJobId('1-1') })).toEqual([]);
    });

    it('reads back every field in the order recorded, without waiting between records', async () => {
      const records = [
        write(),
        write({ messageType: 'log', fencingToken: 2 ** 40, currentToken: 2 ** 40 + 1, at: 2 }),
        write({ jobId: asJobId('1-2'), messageType: 'renew', at: 3 }),
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
