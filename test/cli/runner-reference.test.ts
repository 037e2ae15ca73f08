import { describe, expect, it } from 'vitest';
import { pickRunner } from '../../src/cli/runner-reference.js';
import type { FleetRunnerView } from '../../src/server/runner-directory.js';

function runner(id: string, name: string): FleetRunnerView {
  return { id, name, labels: ['linux'], capacity: 1, running: 0, mode: 'online', connected: true };
}

const fleet = [
  runner('3f9a0c1d2e4b', 'build-1'),
  runner('3f9b77aa0011', 'build-2'),
  runner('c0ffee000001', 'gpu'),
];

describe('pickRunner', () => {
  it('takes a whole id, a name, or a start of an id only one runner has', () => {
    expect(pickRunner(fleet, '3f9b77aa0011').name).toBe('build-2');
    expect(pickRunner(fleet, 'gpu').id).toBe('c0ffee000001');
    expect(pickRunner(fleet, '3f9a').name).toBe('build-1');
    expect(pickRunner(fleet, 'c0ffee').name).toBe('gpu');
  });

  it('prefers a whole id to a name, and a name to the start of an id', () => {
    const confusing = [
      runner('aaaa00000001', 'bbbb00000002'),
      runner('bbbb00000002', 'x'),
      runner('cccc00000003', 'aaaa'),
    ];
    expect(pickRunner(confusing, 'bbbb00000002').name).toBe('x');
    expect(pickRunner(confusing, 'aaaa').id).toBe('cccc00000003');
  });

  it('refuses a name or a start several runners share, naming their ids', () => {
    const twins = [...fleet, runner('d00d00000004', 'gpu')];
    expect(() => pickRunner(twins, 'gpu')).toThrow(
      '2 runners are named "gpu" (ids c0ffee000001, d00d00000004); give the id of the one meant',
    );
    expect(() => pickRunner(fleet, '3f9')).toThrow(
      "no runner 3f9 is listed (valkyrie runners list): no runner has that id or name (an id's start names a runner from 4 characters on)",
    );
    expect(() => pickRunner([...fleet, runner('3f9aff000000', 'x')], '3f9a')).toThrow(
      'the ids of 2 runners start with 3f9a (3f9a0c1d2e4b, 3f9aff000000); give more of the id',
    );
  });

  it('refuses what names no runner, as a usage error', () => {
    expect(() => pickRunner(fleet, 'rnr_nope')).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message:
          'no runner rnr_nope is listed (valkyrie runners list): no runner has that id or name, nor an id starting with it',
      }),
    );
    expect(() => pickRunner([], 'build-1')).toThrow('no runner build-1 is listed');
    expect(() => pickRunner(fleet, '')).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: `a runner's id or name is needed (valkyrie runners list), received ""`,
      }),
    );
  });
});
