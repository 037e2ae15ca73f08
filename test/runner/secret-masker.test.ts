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

  it('masks a secret also in the forms GitHub masks: base64 at three offsets, JSON, URI, XML, quoted', () => {
    const masker = new SecretMasker();
    const secret = 'p&ss "w\'rd"/é';
    masker.add(secret);
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    expect(masker.mask(`t ${base64(secret)} t`)).toBe('t *** t');
    // After a prefix of 1 or 2 bytes (mod 3), as in base64("user:" + secret), the tail is masked.
    expect(masker.mask(base64(`u:${secret}`))).toContain('***');
    expect(masker.mask(base64(`us:${secret}`))).toContain('***');
    expect(masker.mask(`{"t":${JSON.stringify(secret)}}`)).toBe('{"t":"***"}');
    expect(masker.mask(`https://h/?t=${encodeURIComponent(secret).replace("'", '%27')}`)).toBe(
      'https://h/?t=***',
    );
    expect(masker.mask('<t>p&amp;ss &quot;w&apos;rd&quot;/é</t>')).toBe('<t>***</t>');
    expect(masker.mask(`echo "${secret.replaceAll('"', '\\"')}"`)).toBe('echo "***"');
    expect(masker.mask(`'${secret.replaceAll("'", "''")}'`)).toBe("'***'");
    const quoted = new SecretMasker();
    quoted.add('"a long secret"');
    expect(quoted.mask('value: a long secret')).toBe('value: ***');
  });

  it('masks base64 of a secret followed by more bytes, as echo "$TOKEN" | base64 makes it', () => {
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    for (const secret of ['hunter2hunter2', 'hunter2hunter2!', 'hunter2hunter2!?']) {
      const masker = new SecretMasker();
      masker.add(secret);
      for (const input of [`${secret}\n`, `user:${secret}\n`, `u:${secret}x`, `${secret}`]) {
        const masked = masker.mask(base64(input));
        expect(masked, `${secret} in ${JSON.stringify(input)}`).toContain('***');
        // What is left cannot give the secret back.
        expect(Buffer.from(masked.replace('***', ''), 'base64').toString()).not.toContain(secret);
      }
      // RFC 4648's URL-safe alphabet too.
      const urlSafe = base64(`${secret}\n`).replaceAll('+', '-').replaceAll('/', '_');
      expect(masker.mask(urlSafe)).toContain('***');
    }
  });

  it('leaves base64 forms too short to be told from other base64 unmasked', () => {
    const masker = new SecretMasker();
    masker.add('abc');
    // "abc" shifted by two bytes is "c": its base64, "Yw", is in plenty of other base64.
    expect(masker.mask('Ywxyz YWJj')).toBe('Ywxyz YWJj');
    expect(masker.mask('x abc x')).toBe('x *** x');
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
