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
  /**
   * The SHA-256 (hex) of the registration token last given to it: the one it registered with, or one
   * a later start was given and said it ignored. A service restarted with the same command line is not
   * told at every start that its token is ignored. A digest, not the token: a token of a role other
   * than runner, given by mistake, must not lie in the work dir.
   */
  readonly tokenSha256?: string;
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
  const { server, runnerId, credential, name, tokenSha256 } = value;
  if (typeof server !== 'string' || typeof runnerId !== 'string' || typeof credential !== 'string')
    return undefined;
  return {
    server,
    runnerId,
    credential,
    ...(typeof name === 'string' && name !== '' ? { name } : {}),
    ...(typeof tokenSha256 === 'string' && /^[0-9a-f]{64}$/.test(tokenSha256) ? { tokenSha256 } : {}),
  };
}
