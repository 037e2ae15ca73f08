import { Readable } from 'node:stream';
import type { JobId, RunId } from '../core/ids.js';
import { defaultReadAfterLimit, type LogLine, type LogStore } from '../store/logs.js';

/**
 * A job's stored lines, a page (`readAfter`) at a time, so that no answer holds a runaway job's
 * whole log. The first page is read now, so a store that fails at once fails the request with an
 * error answer; the others are read as the iterator is pulled, until a page comes back short.
 */
export async function jobLogPages(
  logs: LogStore,
  runId: RunId,
  jobId: JobId,
  limit = defaultReadAfterLimit,
): Promise<AsyncGenerator<readonly LogLine[]>> {
  const first = await logs.readAfter(runId, 0, { jobId, limit });
  return (async function* () {
    let page = first;
    yield page.lines;
    while (page.lines.length === limit) {
      page = await logs.readAfter(runId, page.position, { jobId, limit });
      yield page.lines;
    }
  })();
}

/**
 * The pages as the text/plain body: a line of text each. The body is pulled as the client takes it
 * (backpressure), so a page at a time is held. A page that fails to read is reported to `logError`
 * and errors the body: Fastify then destroys the response before its last chunk, so the client's
 * read fails instead of ending as if the log were whole.
 */
export function jobLogText(
  pages: AsyncIterable<readonly LogLine[]>,
  logError: (error: unknown) => void,
): Readable {
  async function* text() {
    try {
      for await (const lines of pages) {
        if (lines.length > 0) yield lines.map((line) => `${line.text}\n`).join('');
      }
    } catch (error) {
      logError(error);
      throw error;
    }
  }
  return Readable.from(text(), { objectMode: false });
}
