import { asRunId, type RunId } from '../core/ids.js';

/** The most runs `GET /api/v1/runs` answers in one page (its `limit`); clients page by it too. */
export const maxRunPageSize = 500;

/**
 * The runs list's `next` cursor. Clients treat it as opaque and pass it back as `cursor`; inside is
 * the id of the last run of the page, so the next page is the runs strictly older than it (keyset
 * paging: a run submitted between two requests does not shift the next page, and a page deep in the
 * history costs what the first one does). Versioned, so its form may change without misreading
 * cursors a client kept.
 */
const prefix = 'v1:before:';
const form = /^v1:before:([1-9][0-9]{0,18})$/;

export function runCursor(last: RunId): string {
  return Buffer.from(`${prefix}${last}`, 'utf8').toString('base64url');
}

/** The run a cursor continues before, or undefined for a string `runCursor` did not make. */
export function runCursorBefore(cursor: string): RunId | undefined {
  // base64url decoding skips characters outside its alphabet, so only a cursor that encodes back to
  // itself is one of ours.
  const id = form.exec(Buffer.from(cursor, 'base64url').toString('utf8'))?.[1];
  if (id === undefined) return undefined;
  const before = asRunId(id);
  return runCursor(before) === cursor ? before : undefined;
}
