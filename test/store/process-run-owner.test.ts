import { expect, it, vi } from 'vitest';
import { processRunOwner } from '../../src/store/run-fence.js';

// The host is renamed between every two reads of its name (DHCP, a laptop changing networks).
vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  let renames = 0;
  return { ...os, hostname: () => `host-${renames++}` };
});

it('names this process as the owner it named first, even after the host is renamed', () => {
  const first = processRunOwner();
  expect(processRunOwner()).toEqual(first);
  expect(first).toEqual({ host: expect.stringMatching(/^host-\d+$/), pid: process.pid });
});
