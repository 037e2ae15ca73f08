import type { Diagnostic } from './diagnostics.js';
import { hasExpressions } from './expressions/index.js';
import type { JobDocument } from './schema.js';
import type { SourceMap } from './source-map.js';

/**
 * A `runs-on` written without a label (`""`, `[]`, `{labels: []}`): the job would go to any runner,
 * where GitHub refuses the workflow. `group:` names a GitHub runner group, which Valkyrie has not:
 * it is matched by its labels alone, so a `{group: deployers}` without labels runs anywhere, and the
 * user is told. A label from an expression is checked when it is evaluated (evaluateLabels).
 */
export function runsOnProblems(
  jobKey: string,
  runsOn: JobDocument['runs-on'] | undefined,
  map: SourceMap,
): Diagnostic[] {
  if (runsOn === undefined) return [];
  const written = typeof runsOn === 'string' || Array.isArray(runsOn) ? runsOn : runsOn.labels;
  const labels = typeof written === 'string' ? [written] : (written ?? []);
  const noLabel = labels.every((label) => label === '') && !labels.some(hasExpressions);
  const group = typeof runsOn === 'object' && !Array.isArray(runsOn) ? runsOn.group : undefined;
  if (group !== undefined) {
    const anyRunner = noLabel ? ': without labels, this job runs on any runner' : '';
    return [
      {
        severity: 'warning',
        message: `runs-on: group "${group}" has no effect: Valkyrie has no runner groups, it matches runners by their labels${anyRunner}`,
        ...map.position(['jobs', jobKey, 'runs-on', 'group'], { key: true }),
      },
    ];
  }
  if (!noLabel) return [];
  return [
    {
      severity: 'error',
      message: `job "${jobKey}": runs-on must name at least one runner label (runs-on: self-hosted, [self-hosted, linux]), received ${JSON.stringify(runsOn)}`,
      // Only for a diagnostic: looking a position up walks the jobs map.
      ...map.position(['jobs', jobKey, 'runs-on']),
    },
  ];
}
