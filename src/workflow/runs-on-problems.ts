import { intendedLabels, isRunnerLabelShape } from '../core/runner-label.js';
import type { Diagnostic } from './diagnostics.js';
import { hasExpressions } from './expressions/index.js';
import type { JobDocument } from './schema.js';
import type { SourceMap } from './source-map.js';

/**
 * A `runs-on` written without a label (`""`, `[]`, `{labels: []}`): the job would go to any runner,
 * where GitHub refuses the workflow. `group:` names a GitHub runner group, which Valkyrie has not:
 * it is matched by its labels alone, so a `{group: deployers}` without labels, which would run
 * anywhere, is refused the same way, and a group beside labels is warned of. A label with a space, a comma or a control character (`"self-hosted, linux"`,
 * `" gpu "`) is one no runner can have (`valkyrie runner --labels` refuses it, untrimmed, as its
 * match would be): refused at the label, with the list it was likely meant as. A label from an
 * expression is checked when it is evaluated (evaluateLabels).
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
  const unfit = unfitLabelProblems(jobKey, runsOn, written, map);
  const group = typeof runsOn === 'object' && !Array.isArray(runsOn) ? runsOn.group : undefined;
  if (group !== undefined && noLabel) {
    return [
      {
        severity: 'error',
        message: `job "${jobKey}": runs-on: group "${group}" without labels would run the job on any runner: Valkyrie has no runner groups, it matches runners by their labels; add the labels it needs (runs-on: {group: ${group}, labels: [self-hosted, linux]})`,
        ...map.position(['jobs', jobKey, 'runs-on', 'group'], { key: true }),
      },
    ];
  }
  if (group !== undefined) {
    return [
      ...unfit,
      {
        severity: 'warning',
        message: `runs-on: group "${group}" has no effect: Valkyrie has no runner groups, it matches runners by their labels`,
        ...map.position(['jobs', jobKey, 'runs-on', 'group'], { key: true }),
      },
    ];
  }
  if (!noLabel) return unfit;
  return [
    {
      severity: 'error',
      message: `job "${jobKey}": runs-on must name at least one runner label (runs-on: self-hosted, [self-hosted, linux]), received ${JSON.stringify(runsOn)}`,
      // Only for a diagnostic: looking a position up walks the jobs map.
      ...map.position(['jobs', jobKey, 'runs-on']),
    },
  ];
}

/**
 * The literal labels of `runs-on` no runner can have, each at its own position, with the `runs-on`
 * (or `labels:`) it was likely meant as.
 */
function unfitLabelProblems(
  jobKey: string,
  runsOn: NonNullable<JobDocument['runs-on']>,
  written: string | readonly string[] | undefined,
  map: SourceMap,
): Diagnostic[] {
  const labels = typeof written === 'string' ? [written] : (written ?? []);
  // An empty label is runsOnProblems' own; one from an expression is evaluateLabels'.
  const checkedLater = (label: string) => label === '' || hasExpressions(label);
  if (labels.every((label) => checkedLater(label) || isRunnerLabelShape(label))) return [];
  const meant = labels.flatMap((label) =>
    label === '' ? [] : checkedLater(label) || isRunnerLabelShape(label) ? [label] : intendedLabels(label),
  );
  const key = typeof runsOn === 'string' || Array.isArray(runsOn) ? 'runs-on' : 'labels';
  const hint = `${key}: ${meant.length === 1 ? (meant[0] ?? '') : `[${meant.join(', ')}]`}`;
  const at = (index: number) => [
    ...(key === 'runs-on' ? ['jobs', jobKey, 'runs-on'] : ['jobs', jobKey, 'runs-on', 'labels']),
    ...(typeof written === 'string' ? [] : [index]),
  ];
  return labels.flatMap((label, index) => {
    if (checkedLater(label) || isRunnerLabelShape(label)) return [];
    const fix =
      intendedLabels(label).length > 1 ? `for several labels, list them: ${hint}` : `write it as ${hint}`;
    return [
      {
        severity: 'error' as const,
        message: `job "${jobKey}": runs-on label ${JSON.stringify(label)} has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them), so no runner could take the job; ${fix}`,
        ...map.position(at(index)),
      },
    ];
  });
}
