import type { WorkflowDocument } from './schema.js';
import { describePath } from './schema-issues.js';
import type { SourceMap } from './source-map.js';

type Report = (message: string, at: { line: number; col: number }) => void;
type Path = readonly (string | number)[];

/**
 * GitHub compares the keys of env, with: and outputs ignoring case, and refuses a second that differs
 * only in case ("'foo' is already defined"); Valkyrie set both, as two variables. Each is reported at
 * the second key.
 */
export function checkKeyCases(document: WorkflowDocument, map: SourceMap, report: Report): void {
  const check = (values: Readonly<Record<string, unknown>> | undefined, path: Path) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(values ?? {})) {
      const first = seen.get(key.toLowerCase());
      if (first === undefined) seen.set(key.toLowerCase(), key);
      else
        report(
          `${describePath([...path, key])} is already defined as "${first}": GitHub compares these keys ignoring case`,
          map.position([...path, key], { key: true }),
        );
    }
  };
  check(document.env, ['env']);
  for (const [key, job] of Object.entries(document.jobs)) {
    check(job.env, ['jobs', key, 'env']);
    check(job.outputs, ['jobs', key, 'outputs']);
    for (const [index, step] of job.steps.entries()) {
      check(step.env, ['jobs', key, 'steps', index, 'env']);
      check(step.with, ['jobs', key, 'steps', index, 'with']);
    }
  }
}
