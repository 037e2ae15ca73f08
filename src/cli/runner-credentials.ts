import { join } from 'node:path';
import { credentialsFileName } from '../core/runner-credentials-file.js';
import { maxRunnerNameLength, runnerNameFault } from '../core/runner-label.js';
import type { RunnerInfo } from '../protocol/messages.js';
import { describeCertificateFailure } from '../protocol/tls-certificate.js';
import { type RunnerCredentials, readCredentials, writeCredentials } from '../runner/registration.js';
import type { ConnectionLines } from './connection-lines.js';
import { credentialRefusalText } from './credential-refusal.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { complain, say } from './runner-lines.js';
import { type RunnerSettings, registrationFlags } from './runner-options.js';
import {
  registerWhenReachable,
  registrationRefusal,
  replacedCredentialLine,
  tellIgnoredToken,
} from './runner-register.js';

/**
 * The credential stored for this server, or the token to register with; without either, a
 * UsageError that says why. Asked before the work dir is created or locked, so that a bad
 * invocation leaves nothing behind, and again under the lock (credentialsFor).
 */
export function credentialSource(
  settings: RunnerSettings,
):
  | { readonly stored: RunnerCredentials }
  | { readonly token: string; readonly replaces: RunnerCredentials | undefined } {
  const read = readCredentials(settings.workDir);
  const file = join(settings.workDir, credentialsFileName);
  // Not registered over, with or without a token: it may be the only copy of this runner's identity.
  if (read.kind === 'unusable')
    throw new UsageError(
      `--work-dir: cannot use ${file} (${read.why}); to register this runner again, delete it and start with ${registrationFlags(settings)}`,
    );
  const stored = read.kind === 'stored' ? read.credentials : undefined;
  if (stored !== undefined && stored.server === settings.server) return { stored };
  if (settings.token !== undefined) return { token: settings.token, replaces: stored };
  const why = stored === undefined ? `there is no ${file}` : `${file} is for ${stored.server}`;
  throw new UsageError(
    `a registration token is needed to register this runner: ${why}; start it with --token-file FILE or ` +
      '--token TOKEN (or VALKYRIE_TOKEN), made by valkyrie token create --role runner',
  );
}

/**
 * The name to go on under without --name: the one kept with the stored credential, if any. A runner
 * registered before --name was checked at its start may keep one the server's `register` refuses (a
 * blank one, which registration took): a UsageError then says so and how to go on, rather than the
 * server refusing every connection.
 */
export function storedRunnerName(settings: RunnerSettings, stored: RunnerCredentials): string | undefined {
  const { name } = stored;
  if (settings.name !== undefined || name === undefined) return undefined;
  const fault = runnerNameFault(name);
  if (fault === undefined) return name;
  const why = {
    blank: 'it is blank',
    'control character': 'it has a control character',
    'too long': `it is longer than ${maxRunnerNameLength} characters`,
  }[fault];
  throw new UsageError(
    `--work-dir: ${join(settings.workDir, credentialsFileName)} keeps ${JSON.stringify(name)} as the name this runner registered under, which a runner name cannot be now (${why}); start it with --name NAME`,
  );
}

/** The stored credentials for this server, or new ones from registering with the token. */
export async function credentialsFor(
  settings: RunnerSettings,
  info: RunnerInfo,
  lines: ConnectionLines,
  signal: AbortSignal,
): Promise<RunnerCredentials | number> {
  const source = credentialSource(settings);
  const file = join(settings.workDir, credentialsFileName);
  if ('stored' in source) {
    tellIgnoredToken(settings, source.stored, complain);
    return source.stored;
  }
  const result = await registerWhenReachable(settings.server, source.token, info, lines, say, signal);
  if (result.kind === 'stopped') return ExitCode.succeeded;
  if (result.kind === 'rejected') {
    complain(registrationRefusal(result, settings));
    return ExitCode.invalid;
  }
  if (result.kind === 'untrusted')
    return certificateRefused(describeCertificateFailure(settings.server, result.failure));
  const unstored = writeCredentials(settings.workDir, result.credentials);
  if (unstored !== undefined)
    throw new UsageError(
      `registered with ${settings.server} as ${result.credentials.runnerId}, but cannot store its credential in ${file} (${unstored}); ` +
        `fix that and start again (valkyrie runners remove ${result.credentials.runnerId} takes this registration off the list)`,
    );
  lines.reached(
    `registered with ${settings.server} as ${result.credentials.runnerId} (credentials in ${file})`,
  );
  if (source.replaces !== undefined)
    complain(replacedCredentialLine(settings, source.replaces, result.credentials.runnerId));
  return result.credentials;
}

/**
 * The server's TLS certificate failed verification (`line` says how, for which server, and the fix):
 * one line, and exit 78. Retrying would fail the same way until this machine's trust or the
 * certificate changes.
 */
export function certificateRefused(line: string): number {
  complain(line);
  return ExitCode.runnerTlsCertificate;
}

/**
 * The server refused the stored credential, at connect or by revoking it while connected: one line,
 * and exit 2. Reconnecting with it would only be refused again.
 */
export function credentialRefused(settings: RunnerSettings, what: string, reason: string): number {
  const file = join(settings.workDir, credentialsFileName);
  complain(
    `${credentialRefusalText(what, reason)}. ` +
      `To register again, delete ${file} and start with ${registrationFlags(settings)}.`,
  );
  return ExitCode.invalid;
}
