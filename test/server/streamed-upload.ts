import { type ClientRequest, request } from 'node:http';
import { adminToken } from './helpers.js';

export interface StreamedUpload {
  /** Write the body with it, in as many pieces and as slowly as the test needs. */
  readonly request: ClientRequest;
  /** The answer's status, or the request's error message when the connection ends first. */
  readonly answer: Promise<number | string>;
}

/** A bundle upload over a real connection, declaring `length` bytes, whose body the caller sends. */
export function startUpload(
  serverUrl: string,
  sha256: string,
  length: number,
  token = adminToken,
): StreamedUpload {
  const upload = request(`${serverUrl}/api/v1/bundles/${sha256}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/gzip',
      'content-length': String(length),
    },
  });
  const answer = new Promise<number | string>((resolve) => {
    upload.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    upload.on('error', (error) => resolve(error.message));
  });
  return { request: upload, answer };
}
