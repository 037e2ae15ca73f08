import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { messageOf } from '../core/error-message.js';
import { readFailureText } from '../core/read-failure.js';
import {
  credentialsFileName,
  parseRunnerCredentials,
  type RunnerCredentials,
} from '../core/runner-credentials-file.js';
import { sha256Hex } from '../core/sha256.js';
import { type AttemptFailure, requestFailureAt } from '../protocol/attempt-failure.js';
import { parseErrorBody } from '../protocol/handshake.js';
import type { RunnerInfo } from '../protocol/messages.js';
import { type CertificateFailure, certificateFailure } from '../protocol/tls-certificate.js';
import { plainServerLine } from '../protocol/tls-mismatch.js';

export type { RunnerCredentials };

export type Registration =
  | { readonly kind: 'registered'; readonly credentials: RunnerCredentials }
  /** The server answered and said no (bad or expired token, wrong role): retrying will not help. */
  | { readonly kind: 'rejected'; readonly status: number; readonly code: string; readonly message: string }
  /**
   * No answer, or the server is unavailable for now: worth retrying. `reason` is what went wrong,
   * without the server's URL, which the line that tells it names ("connect ECONNREFUSED …",
   * "took the request but gave no answer …", "answered 503: …").
   */
  | { readonly kind: 'unreachable'; readonly reason: string; readonly failed: AttemptFailure }
  /** The server's TLS certificate failed verification: retrying will not help until trust changes. */
  | { readonly kind: 'untrusted'; readonly failure: CertificateFailure };

/**
 * What a work dir's credential file holds. `unusable`: it is there but cannot be read or is not a
 * credential (damaged, edited, a directory): told apart from `absent`, as "there is no runner.json"
 * would send the operator looking for a file that is there, and registering anew over it would lose
 * the runner's identity without a word.
 */
export type StoredCredentials =
  | { readonly kind: 'absent' }
  | { readonly kind: 'stored'; readonly credentials: RunnerCredentials }
  | { readonly kind: 'unusable'; readonly why: string };

export function readCredentials(workDir: string): StoredCredentials {
  let text: string;
  try {
    text = readFileSync(join(workDir, credentialsFileName), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: the work dir is a file, which creating it says.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    return { kind: 'unusable', why: readFailureText(error) };
  }
  const credentials = parseRunnerCredentials(text);
  if (credentials !== undefined) return { kind: 'stored', credentials };
  return {
    kind: 'unusable',
    why: 'it does not hold a runner credential: JSON with server, runnerId and credential',
  };
}

/**
 * Written to a temporary file first, so a crash never leaves half a credential behind. Returns why it
 * could not be stored (the temporary file removed), or undefined once it is.
 */
export function writeCredentials(workDir: string, credentials: RunnerCredentials): string | undefined {
  const path = join(workDir, credentialsFileName);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
    return undefined;
  } catch (error) {
    rmSync(temporary, { force: true });
    return readFailureText(error);
  }
}

/**
 * One attempt at `POST <server>/api/v1/runners/register` with a registration token, which the server
 * exchanges for this runner's own id and credential (`201 {runnerId, credential}`).
 */
export async function registerRunner(
  server: string,
  token: string,
  info: RunnerInfo,
  signal?: AbortSignal,
): Promise<Registration> {
  let response: Response;
  try {
    response = await fetch(`${server}/api/v1/runners/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(info),
      signal: signal ?? null,
    });
  } catch (error) {
    const failure = certificateFailure(error);
    if (failure !== undefined) return { kind: 'untrusted', failure };
    return {
      kind: 'unreachable',
      reason: fetchFailure(server, error),
      failed: await requestFailureAt(server, error, signal),
    };
  }
  const text = await response.text().catch(() => '');
  if (response.status >= 500 || response.status === 429)
    return {
      kind: 'unreachable',
      reason: `answered ${response.status}: ${parseErrorBody(text, response.status).message}`,
      failed: { kind: 'answered', status: response.status },
    };
  if (response.status !== 200 && response.status !== 201) {
    const { code, message } = parseErrorBody(text, response.status);
    return { kind: 'rejected', status: response.status, code, message };
  }
  const body = parseJson(text);
  const runnerId = body?.runnerId;
  const credential = body?.credential;
  if (typeof runnerId !== 'string' || typeof credential !== 'string') {
    const message = `the server's answer has no runnerId and credential: ${text.slice(0, 200)}`;
    return { kind: 'rejected', status: response.status, code: 'VK_PROTOCOL', message };
  }
  return {
    kind: 'registered',
    credentials: { server, runnerId, credential, name: info.name, tokenSha256: sha256Hex(token) },
  };
}

/**
 * Why fetch failed: its cause's words ("connect ECONNREFUSED …"), not fetch's own "fetch failed". A
 * server that took the request and stayed silent was reached, which says so.
 */
function fetchFailure(server: string, error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  // fetch's own limit on an unanswered request (undici's headersTimeout)
  if ((cause as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_HEADERS_TIMEOUT')
    return 'took the request but gave no answer within 5 minutes (UND_ERR_HEADERS_TIMEOUT)';
  return plainServerLine(new URL(server).origin, error) ?? cause?.message ?? messageOf(error);
}

/**
 * Revokes the credential the runner connects with (DELETE /api/v1/runner/credential), so that nothing
 * can connect as this runner again, and removes it from the work dir. Returns why the revocation
 * failed, or undefined when it was done (the file is removed either way: this runner is not coming back).
 */
export async function revokeOwnCredentials(
  workDir: string,
  credentials: RunnerCredentials,
): Promise<string | undefined> {
  rmSync(join(workDir, credentialsFileName), { force: true });
  try {
    const response = await fetch(`${credentials.server}/api/v1/runner/credential`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${credentials.credential}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status === 204) return undefined;
    const text = await response.text().catch(() => '');
    const { code, message } = parseErrorBody(text, response.status);
    return `${response.status} ${code}: ${message}`;
  } catch (error) {
    return plainServerLine(new URL(credentials.server).origin, error) ?? messageOf(error);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
