import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The first of `candidates` (URLs relative to `base`, the caller's import.meta.url) that exists, as a
 * path; undefined when none does. For a worker thread's entry, built under dist/ and reached from
 * each layout the caller runs in (executors/thread/worker-entry.ts, server/workflow-parse-thread.ts).
 */
export function firstBuilt(candidates: readonly string[], base: string): string | undefined {
  for (const candidate of candidates) {
    const path = fileURLToPath(new URL(candidate, base));
    if (existsSync(path)) return path;
  }
  return undefined;
}
