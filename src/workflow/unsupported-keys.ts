import { isRecord } from '../core/is-record.js';
import type { Diagnostic } from './diagnostics.js';
import type { SourceMap } from './source-map.js';

/**
 * Job keys that are valid on GitHub but that Valkyrie does not support (yet). The schema would call
 * them unknown, which reads like a typo; so they are taken out before it runs, each reported once
 * with what to do instead.
 */
const unsupportedJobKeys: Readonly<Record<string, string>> = {
  container:
    'a job\u2019s steps run on its runner\u2019s host, not in a container; remove it, or run the container in a run: step (docker run \u2026)',
  services:
    'no service containers are started; remove it, and start what the job needs in a run: step (docker run -d \u2026) or on the runner\u2019s host',
  snapshot:
    'no runner image is made from a job; remove it, and build the image the way your runners\u2019 hosts are built',
  with: 'it only goes with uses: (a call of a reusable workflow), which Valkyrie does not support yet either; remove it',
  secrets:
    'it only goes with uses: (a call of a reusable workflow), which Valkyrie does not support yet either; remove it',
};

/**
 * A job that calls a reusable workflow has no runs-on or steps of its own: it stands in as one that
 * runs nothing, with a label every runner has (a runs-on without one is an error of its own).
 */
const standIn = (needs: unknown) => ({
  ...(needs === undefined ? {} : { needs }),
  'runs-on': 'self-hosted',
  steps: [{ run: '' }],
});

export interface SetAside {
  /** The workflow without those keys; `data` itself when it had none. */
  readonly data: Record<string, unknown>;
  readonly diagnostics: readonly Diagnostic[];
}

/** Reports and removes the unsupported GitHub keys of every job. Cheap when there are none. */
export function setAsideUnsupportedKeys(data: Record<string, unknown>, map: SourceMap): SetAside {
  const jobs = data.jobs;
  if (!isRecord(jobs)) return { data, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  let changed: Record<string, unknown> | undefined;
  const error = (message: string, path: (string | number)[]) =>
    diagnostics.push({ severity: 'error', message, ...map.position(path, { key: true }) });
  for (const [key, job] of Object.entries(jobs)) {
    if (!isRecord(job)) continue;
    if (job.uses !== undefined) {
      const called = typeof job.uses === 'string' ? ` "${job.uses}"` : '';
      error(
        `job "${key}" calls the reusable workflow${called}: a GitHub feature Valkyrie does not support yet; copy that workflow\u2019s jobs into this one (its with: inputs and secrets: with them)`,
        ['jobs', key, 'uses'],
      );
      changed ??= { ...jobs };
      changed[key] = standIn(job.needs);
      continue;
    }
    const found = Object.keys(unsupportedJobKeys).filter((name) => job[name] !== undefined);
    if (found.length === 0) continue;
    const kept = { ...job };
    for (const name of found) {
      error(`"${name}" is a GitHub key Valkyrie does not support yet: ${unsupportedJobKeys[name] ?? ''}`, [
        'jobs',
        key,
        name,
      ]);
      delete kept[name];
    }
    changed ??= { ...jobs };
    changed[key] = kept;
  }
  return { data: changed === undefined ? data : { ...data, jobs: changed }, diagnostics };
}
