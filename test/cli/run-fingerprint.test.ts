import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LocalRunRequest, localRunFingerprint } from '../../src/cli/run-fingerprint.js';

const workspace = join('/', 'ws');
const base: LocalRunRequest = {
  source: 'name: w\n',
  workspace,
  path: 'wf.yml',
  vars: { a: '1', b: '2' },
  inputs: { x: '1', y: '2' },
  env: { E: '1', F: '2' },
  secretNames: ['S', 'T'],
  event: 'push',
  jobs: ['a', 'b'],
  priority: 'normal',
};

describe('localRunFingerprint', () => {
  it('does not depend on how the request was spelled', () => {
    const same: LocalRunRequest[] = [
      { ...base, path: './wf.yml' },
      { ...base, path: join(workspace, 'wf.yml') },
      { ...base, jobs: ['b', 'a', 'b'] },
      { ...base, vars: { b: '2', a: '1' }, inputs: { y: '2', x: '1' }, env: { F: '2', E: '1' } },
      { ...base, secretNames: ['T', 'S'] },
    ];
    for (const request of same) expect(localRunFingerprint(request)).toBe(localRunFingerprint(base));
  });

  it('differs with what was asked for', () => {
    const other: LocalRunRequest[] = [
      { ...base, path: 'other.yml' },
      { ...base, event: 'workflow_dispatch' },
      { ...base, jobs: ['a'] },
      { ...base, jobs: undefined },
      { ...base, vars: { a: '1', b: '3' } },
      { ...base, source: 'name: v\n' },
      { ...base, priority: 'high' },
    ];
    for (const request of other) expect(localRunFingerprint(request)).not.toBe(localRunFingerprint(base));
  });
});
