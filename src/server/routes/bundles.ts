import { Readable } from 'node:stream';
import { isValkyrieError, type ValkyrieError } from '../../core/errors.js';
import { runIdOfJob } from '../../core/ids.js';
import { isTerminal } from '../../core/outcome.js';
import { ApiError } from '../api-error.js';
import { BundleFetchTouches } from '../bundle-fetch-touches.js';
import { bundleFetchTouchIntervalMs } from '../bundle-sweeper.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type Route } from '../route.js';
import { bundleStoredSchema, errorSchema, jobParams, sha256Params } from '../schemas.js';

/**
 * What a bundle upload may be sent as: a gzipped tar is `application/gzip`, and generic clients
 * (curl --data-binary, SDKs) send `application/octet-stream`, which is taken as the same. The first is
 * the one a refusal asks for; app.ts parses each, and the OpenAPI document lists each.
 */
export const bundleBodyTypes = ['application/gzip', 'application/octet-stream'] as const;

/** Workspace bundles: uploaded by `valkyrie submit`, fetched per job by runners with a job token. */
export function bundleRoutes(context: ApiContext): Route[] {
  const { bundles, stores, maxBundleBytes, clock, bundleRetentionMs } = context;
  const fetches = new BundleFetchTouches(bundles, clock, bundleFetchTouchIntervalMs(bundleRetentionMs));
  return [
    defineRoute({
      method: 'HEAD',
      url: '/api/v1/bundles/:sha256',
      operationId: 'checkBundle',
      summary: 'Whether the server has this bundle (200) or not (404)',
      access: 'submit',
      params: sha256Params,
      responses: {
        200: { description: 'present' },
        404: { description: 'absent: X-Valkyrie-Error VK_BUNDLE_NOT_FOUND (a HEAD answer has no body)' },
      },
      async handle({ params }) {
        // An error, so its code is in the header: a client tells the route's 404 from a proxy's.
        if (!(await bundles.has(params.sha256)))
          throw new ApiError(404, 'VK_BUNDLE_NOT_FOUND', `no bundle ${params.sha256}`, {
            path: 'params.sha256',
          });
        return { status: 200 };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/bundles/:sha256',
      operationId: 'uploadBundle',
      summary:
        'Upload a bundle (a gzipped tar, sent as application/gzip or application/octet-stream); stored only when its sha256 matches the URL',
      access: 'submit',
      params: sha256Params,
      rawBody: bundleBodyTypes,
      responses: {
        201: { description: 'stored (also over a damaged stored copy)', schema: bundleStoredSchema },
        200: { description: 'the server already had it', schema: bundleStoredSchema },
        400: { description: 'VK_BUNDLE_HASH_MISMATCH', schema: errorSchema },
        413: {
          description: `VK_BODY_TOO_LARGE: over ${maxBundleBytes} bytes, at once when Content-Length says so`,
          schema: errorSchema,
        },
      },
      async handle({ params, request, reply }) {
        const declared = Number(request.headers['content-length']);
        if (declared > maxBundleBytes) {
          // Refused before a byte of it is read or a file made for it.
          reply.header('connection', 'close');
          throw tooLarge(maxBundleBytes, `its Content-Length is ${declared}`);
        }
        // Begun before a shutdown, it is taken and answered within the drain, not cut off mid-body.
        const answered = new Promise<void>((resolve) => reply.raw.once('close', resolve));
        context.uploads.add(answered);
        void answered.then(() => context.uploads.delete(answered));
        const upload = bundles.put(params.sha256, request.raw, maxBundleBytes, () => clock.now());
        const outcome = await upload.catch((error) => {
          // The rest of a refused body is not read, so the connection cannot carry another request:
          // the client must not reuse it (it would wait on a server still reading the old body).
          if (!request.raw.complete) reply.header('connection', 'close');
          if (!request.raw.complete && clientWentAway(error)) {
            // No server failure: one line, and an answer nobody is left to read.
            context.logNotice(`bundle upload ${params.sha256} ended early: the client went away`);
            throw new ApiError(400, 'VK_INVALID_REQUEST', 'the upload ended before the whole body came');
          }
          return uploadError(error);
        });
        return { status: outcome === 'created' ? 201 : 200, body: { sha256: params.sha256 } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/jobs/:jobId/workspace',
      operationId: 'getJobWorkspace',
      summary: "The job's workspace bundle; only with that job's token (from its lease), until the job ends",
      access: 'job',
      params: jobParams,
      responses: {
        200: { description: 'the bundle', contentType: 'application/gzip' },
        403: { description: "VK_FORBIDDEN: another job's token", schema: errorSchema },
        404: {
          description:
            'VK_BUNDLE_NOT_FOUND: the run has no bundle, or it is no longer stored (past the retention, or found damaged)',
          schema: errorSchema,
        },
        401: { description: 'VK_UNAUTHORIZED: the token expired, or its job has ended', schema: errorSchema },
      },
      async handle({ params, principal, reply }) {
        const bundle = principal?.kind === 'job' ? principal.bundle : undefined;
        const runId = runIdOfJob(params.jobId);
        const jobs = runId === undefined ? [] : await stores.runs.listJobs(runId);
        const job = jobs.find((candidate) => candidate.id === params.jobId);
        if (job !== undefined && isTerminal(job.status))
          throw new ApiError(
            401,
            'VK_UNAUTHORIZED',
            `job ${job.id} has ended (${job.status}); its token is no longer valid`,
          );
        // A fetch is a use: a run whose jobs still start keeps its bundle past the retention. Every
        // leg of a matrix fetches the same bundle, so only the first fetch in a while writes it.
        if (bundle === undefined)
          throw new ApiError(404, 'VK_BUNDLE_NOT_FOUND', `job ${params.jobId} has no workspace bundle`);
        if (!(await fetches.touch(bundle))) throw noLongerStored(params.jobId);
        // Its first piece read before the answer starts: a copy removed since the touch (found damaged
        // by another replica, or by a fetch racing this one) is a 404 saying so, not a 500 or a
        // response cut off. The touch that said it was stored is forgotten, for the next leg's fetch.
        const damaged = (error: ValkyrieError) => {
          // Removed by the store: the next fetch must ask it again, not trust the last touch.
          fetches.forget(bundle);
          context.logNotice(`the workspace of job ${params.jobId}: ${error.message}`);
        };
        const pieces: AsyncIterator<Buffer> = bundles.read(bundle)[Symbol.asyncIterator]();
        const first = await pieces.next().catch((error: unknown): IteratorResult<Buffer> => {
          if (!isValkyrieError(error)) throw error;
          // A small copy is judged before its first piece is handed over: it ends as servedBytes ends one.
          if (error.code === 'VK_BUNDLE_DAMAGED') {
            damaged(error);
            return { done: true, value: undefined };
          }
          if (error.code !== 'VK_BUNDLE_NOT_FOUND') throw error;
          fetches.forget(bundle);
          throw noLongerStored(params.jobId);
        });
        reply.type('application/gzip');
        return { status: 200, body: Readable.from(servedBytes(first, pieces, damaged)) };
      },
    }),
  ];
}

/**
 * The bundle's bytes as a response body. A copy the store finds damaged as it streams (and removed)
 * ends the response as a whole one would: the runner checks the bytes against the job's sha256
 * and tells its job that the server's copy was damaged (runner/workspace-download.ts). A response
 * cut off instead would read to it as a broken connection.
 */
async function* servedBytes(
  first: IteratorResult<Buffer>,
  rest: AsyncIterator<Buffer>,
  damaged: (error: ValkyrieError) => void,
): AsyncGenerator<Buffer> {
  try {
    for (let piece = first; piece.done !== true; piece = await rest.next()) yield piece.value;
  } catch (error) {
    if (!isValkyrieError(error) || error.code !== 'VK_BUNDLE_DAMAGED') throw error;
    damaged(error);
  } finally {
    // A response cut off stops the store's read (a stream read to its end ignores it).
    await rest.return?.();
  }
}

function noLongerStored(jobId: string): ApiError {
  return new ApiError(
    404,
    'VK_BUNDLE_NOT_FOUND',
    `the workspace bundle of job ${jobId} is no longer stored (unused past the bundle retention, or found damaged and removed): submit the run again, which uploads it anew`,
  );
}

/** The store's refusals of an upload as the API answers them; anything else as it is. */
function uploadError(error: unknown): never {
  if (isValkyrieError(error) && error.code === 'VK_BUNDLE_HASH_MISMATCH')
    throw new ApiError(400, error.code, error.message, { path: 'params.sha256' });
  if (isValkyrieError(error) && error.code === 'VK_BODY_TOO_LARGE')
    throw new ApiError(413, error.code, error.message);
  throw error;
}

function tooLarge(maxBytes: number, why: string): ApiError {
  return new ApiError(
    413,
    'VK_BODY_TOO_LARGE',
    `bundles are limited to ${maxBytes} bytes and ${why}; nothing was stored`,
  );
}

/** Node's error for a request body whose connection closed before it was whole. */
function clientWentAway(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ECONNRESET' || message === 'aborted';
}
