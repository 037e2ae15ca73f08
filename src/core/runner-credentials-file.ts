import { isRecord } from './is-record.js';

/** The file in a runner's work dir that holds its credential (runner/registration.ts writes it). */
export const credentialsFileName = 'runner.json';

/**
 * Whether `text` is a runner's credentials file as `valkyrie runner` writes it: what submit must not
 * bundle (bundle/runner-work-dirs.ts).
 */
export function holdsRunnerCredential(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  return isRecord(value) && typeof value.runnerId === 'string' && typeof value.credential === 'string';
}
