import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { unpackBundle } from '../bundle/unpack.js';
import { messageOf } from '../core/error-message.js';
import { isValkyrieError, ValkyrieError } from '../core/errors.js';
import { certificateError, certificateFailure } from '../protocol/tls-certificate.js';

export interface WorkspaceDownload {
  /** The control plane's base URL, e.g. `http://ci.example:7070`. */
  readonly serverUrl: string;
  readonly jobId: string;
  /** The per-job token that came with the lease; it opens this job's workspace only. */
  readonly jobToken: string;
  /** The bundle's sha256 from the JobSpec: what arrives must hash to it. */
  readonly sha256: string;
  /** The job's own directory; created when missing, must be empty. It becomes the workspace. */
  readonly jobDir: string;
  readonly signal?: AbortSignal;
}

/**
 * Fetches the job's workspace bundle (`GET /api/v1/jobs/:jobId/workspace` with the job token),
 * streams it to a file beside `jobDir`, and unpacks it into `jobDir` after checking its sha256.
 * Returns the workspace path. The downloaded file is removed whatever happens (a removal that fails
 * is ignored: the download's own outcome stands). Errors:
 * VK_SERVER_UNREACHABLE, VK_TLS_CERTIFICATE (the server's certificate failed verification: the
 * runner stops on it), VK_SERVER_RESPONSE (with the server's code and status), VK_BUNDLE_DOWNLOAD_CUT
 * (the body stopped before the end its framing promised, with how far it came), VK_BUNDLE_DAMAGED
 * (what arrived, whole by the response's framing, does not hash to `sha256`: the server's copy is
 * damaged), VK_BUNDLE_HASH_MISMATCH (the same of a response without framing, which may have been cut
 * short), and unpack's VK_BUNDLE_UNSAFE, VK_BUNDLE_TOO_LARGE, VK_WORKSPACE_NOT_EMPTY.
 */
export async function downloadWorkspace(options: WorkspaceDownload): Promise<string> {
  const url = new URL(
    `api/v1/jobs/${encodeURIComponent(options.jobId)}/workspace`,
    options.serverUrl.endsWith('/') ? options.serverUrl : `${options.serverUrl}/`,
  );
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${options.jobToken}` },
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const failure = certificateFailure(error);
    if (failure !== undefined) throw certificateError(options.serverUrl, failure, error);
    throw new ValkyrieError(
      'VK_SERVER_UNREACHABLE',
      `cannot download the workspace of job ${options.jobId} from ${url.origin}: ${describe(error)}`,
      { cause: error },
    );
  }
  if (!response.ok || response.body === null) throw await refusal(response, options.jobId);
  // Beside the job directory: on the runner's work disk, not a RAM-backed /tmp.
  await mkdir(dirname(options.jobDir), { recursive: true });
  const archive = join(dirname(options.jobDir), `.${basename(options.jobDir)}.bundle.tar.gz`);
  try {
    await pipeline(Readable.from(bodyBytes(response, url.origin, options)), createWriteStream(archive), {
      signal: options.signal,
    });
    await unpackBundle({ archive, sha256: options.sha256, target: options.jobDir }).catch(
      (error: unknown) => {
        if (!isValkyrieError(error) || error.code !== 'VK_BUNDLE_HASH_MISMATCH') throw error;
        throw isFramed(response) ? damagedOnServer(options, error) : maybeCutShort(error);
      },
    );
    return options.jobDir;
  } finally {
    // Never throws: a removal that fails (a directory put at the path: EISDIR) must not replace the
    // download's own error, nor fail a job whose workspace is whole. It is ignored, not told: nothing
    // reads the file again, and it lies in the runner's jobs directory, which its next start empties.
    await rm(archive, { force: true }).catch(() => {});
  }
}

/**
 * The response's body. A body that fails once it has begun (the connection closed before the end its
 * framing promised, or stalled past undici's body timeout) is VK_BUNDLE_DOWNLOAD_CUT, saying how far
 * it came: undici tells it only as "terminated". A stop by `options.signal` stays its AbortError.
 */
async function* bodyBytes(
  response: Response,
  origin: string,
  options: WorkspaceDownload,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  try {
    for await (const chunk of response.body as WebReadableStream<Uint8Array>) {
      received += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const length = response.headers.get('content-length');
    const progress =
      length !== null
        ? `${received} of ${length} bytes`
        : `${received} bytes${isFramed(response) ? ' of a chunked response' : ''}`;
    throw new ValkyrieError(
      'VK_BUNDLE_DOWNLOAD_CUT',
      `the workspace bundle download of job ${options.jobId} from ${origin} was cut short after ${progress} (${describe(error)}); nothing was unpacked. The server's copy may be whole: a re-run (valkyrie rerun) fetches it again`,
      { cause: error },
    );
  }
}

/**
 * The whole response arrived (HTTP's framing says so) and does not hash to the job's sha256: the
 * server sent a damaged stored copy. A server removes such a copy as it sends it, so the user's way
 * out is a new submit, which finds the bundle absent and uploads it.
 */
function damagedOnServer(options: WorkspaceDownload, mismatch: ValkyrieError): ValkyrieError {
  return new ValkyrieError(
    'VK_BUNDLE_DAMAGED',
    `the server's stored copy of the workspace bundle of job ${options.jobId} is damaged: ${mismatch.message}. The server removes such a copy once it has sent it: submit the run again, which uploads the bundle anew`,
    { cause: mismatch },
  );
}

/**
 * Whether the response's end is told by its framing (a Content-Length, or chunked), so that a
 * connection cut short fails the download instead of ending it. Valkyrie's server always frames it;
 * a response without (a proxy may send one) ends where its connection does, cut or not.
 */
function isFramed(response: Response): boolean {
  return (
    response.headers.has('content-length') ||
    /\bchunked\b/i.test(response.headers.get('transfer-encoding') ?? '')
  );
}

/** A mismatch of an unframed response: its connection may have closed early; the server's copy may be whole. */
function maybeCutShort(mismatch: ValkyrieError): ValkyrieError {
  return new ValkyrieError(
    'VK_BUNDLE_HASH_MISMATCH',
    `${mismatch.message}. The response had no length nor chunked framing (a proxy between the runner and the server may send it so), so it may have been cut short, or the server's copy is damaged`,
    { cause: mismatch },
  );
}

async function refusal(response: Response, jobId: string): Promise<ValkyrieError> {
  const text = await response.text().catch(() => '');
  let detail = text.slice(0, 200);
  try {
    const body: unknown = JSON.parse(text);
    if (body !== null && typeof body === 'object' && 'message' in body) {
      const code = 'code' in body ? `${String(body.code)}: ` : '';
      detail = `${code}${String(body.message)}`;
    }
  } catch {}
  return new ValkyrieError(
    'VK_SERVER_RESPONSE',
    `the server refused the workspace of job ${jobId} (HTTP ${response.status}${detail ? `, ${detail}` : ''})`,
  );
}

function describe(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.code) return `${cause.message} (${cause.code})`;
  return messageOf(error);
}
