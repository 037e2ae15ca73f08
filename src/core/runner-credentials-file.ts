import { isRecord } from './is-record.js';

/** The file in a runner's work dir that holds its credential (runner/registration.ts writes it). */
export const credentialsFileName = 'runner.json';

/** What a registered runner keeps in `<work-dir>/runner.json` (mode 0600) and reuses on restart. */
export interface RunnerCredentials {
  readonly server: string;
  readonly runnerId: string;
  readonly credential: string;
  /** The name it registered under: a later start without --name keeps it (files of older runners lack it). */
  readonly name?: string;
}

/**
 * The credentials in the text of a credentials file, when it has their shape: what the runner
 * reuses on restart (runner/registration.ts), and what submit must not bundle (bundle/runner-work-dirs.ts).
 */
export function parseRunnerCredentials(text: string): RunnerCredentials | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const { server, runnerId, credential, name } = value;
  if (typeof server !== 'string' || typeof runnerId !== 'string' || typeof credential !== 'string')
    return undefined;
  return { server, runnerId, credential, ...(typeof name === 'string' && name !== '' ? { name } : {}) };
}
