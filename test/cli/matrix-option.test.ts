import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { collectMatrix } from '../../src/cli/matrix-option.js';
import { localRunFingerprint } from '../../src/cli/run-fingerprint.js';

describe('collectMatrix (--matrix)', () => {
  it("takes KEY=VALUE and act's KEY:VALUE, repeated, each value once", () => {
    let filter = collectMatrix('os=ubuntu-latest');
    filter = collectMatrix('node:20', filter);
    filter = collectMatrix('node=22', filter);
    filter = collectMatrix('os:ubuntu-latest', filter);
    expect(filter).toEqual({ os: ['ubuntu-latest'], node: ['20', '22'] });
  });

  it('ends the key at the first = or :, so a value may hold either', () => {
    expect(collectMatrix('image=node:20')).toEqual({ image: ['node:20'] });
    expect(collectMatrix('image:a=b')).toEqual({ image: ['a=b'] });
  });

  it('refuses an argument without a key or a value, in one line', () => {
    for (const bad of ['os', '=ubuntu-latest', 'os=', ':x']) {
      expect(() => collectMatrix(bad)).toThrow(UsageError);
      expect(() => collectMatrix(bad)).toThrow(
        `--matrix expects KEY=VALUE (or KEY:VALUE), e.g. --matrix os=ubuntu-latest; received ${JSON.stringify(bad)}`,
      );
    }
  });
});

describe('collectMatrix (--matrix) and control characters', () => {
  it('refuses one in the key or the value, as the API does: show would print it to the terminal', () => {
    for (const bad of ['os=x\u001b[31mRED', 'o\u001bs=x', 'os=a\nb', 'os=\u009b', 'os:\u0000']) {
      expect(() => collectMatrix(bad)).toThrow(UsageError);
      expect(() => collectMatrix(bad)).toThrow(
        `--matrix: no control characters (newline, NUL, ESC, …) in KEY or VALUE; received ${JSON.stringify(bad)}`,
      );
    }
    expect(collectMatrix('os=ubuntu latest – ü')).toEqual({ os: ['ubuntu latest – ü'] });
  });
});

describe('localRunFingerprint with --matrix', () => {
  const request = {
    source: 'jobs: {}',
    workspace: '/w',
    path: 'ci.yml',
    vars: {},
    inputs: {},
    env: {},
    secretNames: [],
    event: 'push',
    priority: 'normal' as const,
  };
  it('counts the filter as a set per key, and leaves a run without one as it was', () => {
    const a = localRunFingerprint({ ...request, matrix: { os: ['a', 'b'], node: ['20'] } });
    const b = localRunFingerprint({ ...request, matrix: { node: ['20'], os: ['b', 'a'] } });
    expect(a).toBe(b);
    expect(localRunFingerprint({ ...request, matrix: { os: ['a'] } })).not.toBe(a);
    expect(localRunFingerprint({ ...request, matrix: undefined })).toBe(localRunFingerprint(request));
    expect(localRunFingerprint(request)).not.toBe(a);
  });
});
