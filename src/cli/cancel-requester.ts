import { hostname, userInfo } from 'node:os';

/**
 * Who asks for a cancel with `valkyrie cancel`, as the cancelled jobs' reason gives it: `cancelled by a
 * cancel request (valkyrie cancel by alice on ci-7)`, as GitHub names who cancelled a run. Just
 * `valkyrie cancel` when the user or host cannot be told, or would not fit the API's 200 printable
 * characters.
 */
export function cancelRequester(): string {
  const plain = 'valkyrie cancel';
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (a container's arbitrary user).
    return plain;
  }
  const full = `${plain} by ${user} on ${hostname()}`;
  return full.length <= 200 && !/\p{Cc}/u.test(full) ? full : plain;
}
