import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecretMasker } from '../../src/runner/secret-masker.js';

describe('SecretMasker', () => {
  it('masks every occurrence, longest secret first, and each line of a multi-line secret', () => {
    const masker = new SecretMasker();
    masker.add('abc');
    masker.add('abcdef');
    masker.add('first line\nsecond line');
    expect(masker.mask('x abcdef y abc z')).toBe('x *** y *** z');
    expect(masker.mask('got second line here')).toBe('got *** here');
  });

  it('ignores empty values', () => {
    const masker = new SecretMasker();
    masker.add('');
    masker.add('  ');
    expect(masker.mask('nothing to hide')).toBe('nothing to hide');
  });

  it('never lets a registered secret through (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => s.trim() === s && s.length > 0 && !s.includes('*')),
        fc.string(),
        fc.string(),
        (secret, before, after) => {
          const masker = new SecretMasker();
          masker.add(secret);
          expect(masker.mask(`${before}${secret}${after}`)).not.toContain(secret);
        },
      ),
    );
  });

  it('cuts an over-long line before a secret that straddles the limit, or before what may start one', () => {
    const masker = new SecretMasker();
    masker.add('SUPERSECRET');
    masker.add('KEY');
    expect(masker.cutBefore('0123456789SUPERSECRET', 16)).toBe(10);
    // Only its first characters have arrived: they may be the secret's start.
    expect(masker.cutBefore('0123456789ABCSUPER', 16)).toBe(13);
    expect(masker.cutBefore('0123456789ABCSUPPER', 16)).toBe(16);
    expect(masker.cutBefore('0123456789abcdeKEY', 16)).toBe(15);
    expect(new SecretMasker().cutBefore('x'.repeat(40), 16)).toBe(16);
  });
});
