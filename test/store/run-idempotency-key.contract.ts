import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunSubmission } from '../../src/store/submissions.js';
import { type StoresFactory, useStores } from './fixture.js';

const t0 = 1_700_000_000_000;
const newRun = { workflowName: 'ci', workflowPath: 'ci.yml', createdAt: t0 };
/** `bytes` of base64 text: random, so that Postgres cannot compress it under its index's limit. */
const randomKey = (bytes: number) => randomBytes(bytes).toString('base64').slice(0, bytes);
const keyed = (key: string, scope?: string): RunSubmission => ({
  plannedJobs: 1,
  idempotency: { key, windowMs: 3_600_000, ...(scope === undefined ? {} : { scope }) },
});

/**
 * A run's idempotency key, the same on every store and by the queue's rule (idempotencyKeyProblem):
 * at most 1024 bytes of UTF-8, no NUL, no lone surrogate; else VK_USAGE naming it, nothing written.
 * (Postgres failed a key of 4,000 characters as VK_STORE, 'index row size 4016 exceeds btree version
 * 4 maximum 2704', where SQLite stored it; both stored a lone surrogate as U+FFFD, and on Postgres
 * '\uD801' then found the run of '\uD800'.)
 */
export function runIdempotencyKeyContract(make: StoresFactory): void {
  describe('run idempotency key', () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    const refused: ReadonlyArray<readonly [string, RunSubmission, RegExp]> = [
      [
        'past 1024 bytes',
        keyed(randomKey(1025)),
        /key: expected at most 1024 bytes \(UTF-8\), received 1025$/,
      ],
      ['with a NUL', keyed('a\0b'), /key: "a\\u0000b" holds a NUL character$/],
      [
        'with a lone surrogate',
        keyed('a\uD800'),
        /key: "a\\ud800" holds a lone UTF-16 surrogate \(U\+D800\), which UTF-8 cannot encode$/,
      ],
      ['empty', keyed(''), /key: expected a non-empty string, received $/],
      ['in a scope that is not an id', keyed('k', 'a/b'), /scope: expected 1 to 64 of .*, received "a\/b"$/],
    ];
    for (const [what, submission, message] of refused) {
      it(`refuses a key ${what}, writing nothing`, async () => {
        const submitted = runs().submitRun(newRun, submission);
        await expect(submitted).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(submitted).rejects.toThrow(/^submitRun: submission\.idempotency\./);
        await expect(submitted).rejects.toThrow(message);
        expect(await runs().listRuns()).toEqual([]);
      });
    }

    it('keeps a key of 1024 bytes in a scope, apart from the same key in another scope', async () => {
      const key = randomKey(1024);
      const first = await runs().submitRun(newRun, keyed(key, 'tok1'));
      expect(first.kind).toBe('created');
      expect(await runs().submitRun(newRun, keyed(key, 'tok1'))).toMatchObject({
        kind: 'duplicate',
        run: { id: first.kind === 'created' ? first.run.id : undefined },
      });
      expect((await runs().submitRun(newRun, keyed(key, 'tok2'))).kind).toBe('created');
      expect((await runs().submitRun(newRun, keyed(key))).kind).toBe('created');
      // A surrogate pair is a character like any other.
      expect((await runs().submitRun(newRun, keyed('release-🚀'))).kind).toBe('created');
      expect((await runs().submitRun(newRun, keyed('release-🚀'))).kind).toBe('duplicate');
    });

    it('stores a scoped key as scope/key, as the server stored one before scopes were the store’s', async () => {
      const first = await runs().submitRun(newRun, keyed('k', 'tok1'));
      expect(await runs().submitRun(newRun, keyed('tok1/k'))).toMatchObject({ kind: 'duplicate' });
      expect(first.kind).toBe('created');
    });
  });
}
