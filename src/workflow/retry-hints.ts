import { retryConditions } from './schema.js';
import type { YamlPath } from './source-map.js';

/**
 * Hints for a `retry:` written as GitLab's (`retry: { max: 2, when: runner_system_failure }`): its
 * failure reasons that have a condition here, and its `max`, which counts retries, not attempts.
 */
const gitlabReasons: Readonly<Record<string, string>> = {
  script_failure: 'failure',
  job_execution_timeout: 'timeout',
  runner_system_failure: 'runner-lost',
};

/** `retry.when[i]` (of a job or a step). */
export function isRetryCondition(path: YamlPath): boolean {
  return typeof path.at(-1) === 'number' && path.at(-2) === 'when' && path.at(-3) === 'retry';
}

/** For a `retry.when` item outside the list. */
export function retryConditionHint(received: unknown): string {
  if (received === 'always')
    return ` (GitLab's always is what is retried when when: is left out: ${retryConditions.join(', ')})`;
  const own = typeof received === 'string' ? gitlabReasons[received] : undefined;
  return own === undefined ? '' : ` (GitLab's ${String(received)} is ${own} here)`;
}

/** For `retry.when` given one condition where a list belongs, as GitLab allows. */
export function retryWhenHint(path: YamlPath, received: unknown): string {
  if (path.at(-1) !== 'when' || path.at(-2) !== 'retry' || typeof received !== 'string') return '';
  const gitlab = gitlabReasons[received];
  if (gitlab !== undefined) return ` (write when: [${gitlab}]; GitLab's ${received} is ${gitlab} here)`;
  return (retryConditions as readonly string[]).includes(received) ? ` (write when: [${received}])` : '';
}

/** For GitLab's `max` key in `retry:`. */
export function retryMaxHint(path: YamlPath, key: string, value: unknown): string {
  if (key !== 'max' || path.at(-1) !== 'retry' || typeof value !== 'number' || !Number.isInteger(value))
    return '';
  return ` (GitLab's retry: { max: ${value} } is max-attempts: ${value + 1} here: attempts in all, the first included)`;
}

/** GitLab's `retry: 2` (retries after the first run) written where Valkyrie's takes a mapping. */
export function retryCountHint(path: YamlPath, received: unknown): string {
  if (path.at(-1) !== 'retry' || typeof received !== 'number' || !Number.isInteger(received) || received < 0)
    return '';
  return ` (for ${received} retr${received === 1 ? 'y' : 'ies'} after the first attempt, as GitLab's retry: ${received}, write retry: { max-attempts: ${received + 1} })`;
}
