import { causeWithCode } from '../core/error-cause.js';
import { ValkyrieError } from '../core/errors.js';

/**
 * A server's TLS certificate failed verification (self-signed or unknown CA, expired, issued for
 * another host name, …). Unlike a network error this does not go away by retrying: it is this
 * machine's trust configuration, or the server's certificate, that must change. Every client of the
 * server (the runner's registration, WebSocket, long-poll and workspace download; the CLI's client
 * commands) classifies its errors here, so all of them stop and say the same thing.
 */
export interface CertificateFailure {
  /** Node's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT or ERR_TLS_CERT_ALTNAME_INVALID. */
  readonly code: string;
  /** Node's (OpenSSL's) message, e.g. `self-signed certificate`. */
  readonly detail: string;
}

/** The certificate is fine but no CA this process trusts vouches for it. */
const untrustedCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const wrongHostCodes = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
/** The rest of OpenSSL's X509 verification results as Node names them (tls.TLSSocket authorizationError). */
const otherVerificationCodes = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);

/**
 * The certificate verification failure in `error`, or undefined when it is something else. Looks at
 * the error and its causes: built-in fetch wraps it as `TypeError: fetch failed` with the code on
 * `cause`; node:https and `ws` give it with the code on the error itself.
 */
export function certificateFailure(error: unknown): CertificateFailure | undefined {
  const failed = causeWithCode(error, isVerificationCode);
  return failed === undefined ? undefined : { code: failed.code, detail: failed.message };
}

function isVerificationCode(code: string): boolean {
  return untrustedCodes.has(code) || wrongHostCodes.has(code) || otherVerificationCodes.has(code);
}

/**
 * One line: what is wrong with the certificate of `server` (its URL as the user gave it), and what
 * fixes it. `env` tells whether NODE_EXTRA_CA_CERTS was set (then it did not hold the right CA).
 */
export function describeCertificateFailure(
  server: string,
  failure: CertificateFailure,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const { what, fix } = explain(failure, env.NODE_EXTRA_CA_CERTS);
  return `the server's TLS certificate ${what} (${failure.detail}): ${server} — ${fix}`;
}

/** A VK_TLS_CERTIFICATE error whose message is describeCertificateFailure's line. */
export function certificateError(server: string, failure: CertificateFailure, cause: unknown): ValkyrieError {
  return new ValkyrieError('VK_TLS_CERTIFICATE', describeCertificateFailure(server, failure), { cause });
}

function explain(
  failure: CertificateFailure,
  extraCaCerts: string | undefined,
): { what: string; fix: string } {
  if (untrustedCodes.has(failure.code))
    return {
      what: 'is not trusted',
      fix:
        extraCaCerts === undefined || extraCaCerts === ''
          ? 'trust its CA with NODE_EXTRA_CA_CERTS=FILE (PEM; read when the process starts)'
          : `NODE_EXTRA_CA_CERTS=${extraCaCerts} does not hold its CA (or could not be read: Node warns at start)`,
    };
  if (wrongHostCodes.has(failure.code))
    return {
      what: 'is not for this host name',
      fix: 'use a host name the certificate names in the server URL, or reissue the certificate for this one',
    };
  if (failure.code === 'CERT_HAS_EXPIRED')
    return { what: 'has expired', fix: "renew the server's certificate (or check this machine's clock)" };
  if (failure.code === 'CERT_NOT_YET_VALID')
    return { what: 'is not valid yet', fix: "check this machine's clock, or the certificate's start date" };
  return { what: 'failed verification', fix: 'check the certificate the server is given (--tls-cert)' };
}
