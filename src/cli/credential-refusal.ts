import type { CloseInfo } from '../protocol/transport-end.js';

/**
 * `the server refused this runner's credential (WHAT): DETAIL`, for a credential refused at connect or
 * revoked while connected (`valkyrie runners remove`, `token revoke`): `what` names the refusal (its
 * code), `reason` is the server's. A close reason may start with the code `what` already names, which
 * is said once.
 */
export function credentialRefusalText(what: string, reason: string): string {
  const said = /^(VK_[A-Z_]+): /.exec(reason);
  const detail = said?.[1] !== undefined && what.includes(said[1]) ? reason.slice(said[0].length) : reason;
  return `the server refused this runner's credential (${what}): ${detail}`;
}

/**
 * Why the runner cancels its running jobs when the server closed its connection on purpose, as each
 * job's line and reason say: a revoked credential is that, not a lost control plane (the server is
 * there, and has already requeued the jobs).
 */
export function serverClosedJobReason(closed: CloseInfo): string {
  if (closed.kind === 'refused') return credentialRefusalText(closed.code, closed.reason);
  return 'the runner lost its control plane';
}
