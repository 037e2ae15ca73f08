import { vi } from 'vitest';
import type { Stores } from '../../src/store/store.js';

/**
 * Holds the store's reads of token `id`, but for the first `passed` (a request's own check, when the
 * read to hold is an event stream's at its opening): each reads the row as it is then and hands it on
 * only once released, as a Postgres read in flight while another request revokes the token.
 */
export function holdTokenReads(stores: Stores, id: string, passed = 0) {
  const find = stores.tokens.find.bind(stores.tokens);
  const held: (() => void)[] = [];
  let holding = true;
  let reads = 0;
  vi.spyOn(stores.tokens, 'find').mockImplementation(async (read) => {
    const row = await find(read);
    if (holding && read === id && ++reads > passed) await new Promise<void>((resolve) => held.push(resolve));
    return row;
  });
  return {
    /** Resolves once `count` reads are held. */
    async reached(count: number): Promise<void> {
      while (held.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    /** Hands on the held reads; later ones are not held. */
    release(): void {
      holding = false;
      for (const resume of held.splice(0)) resume();
    },
  };
}
