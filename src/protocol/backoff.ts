export interface BackoffPolicy {
  /** Delay ceiling of the first retry; doubles per attempt. */
  readonly baseMs: number;
  readonly capMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 250, capMs: 30_000 };

/**
 * "Equal jitter": half of the exponential delay is fixed and half random, so a fleet that lost its
 * server at once does not come back at once, and no retry is ever immediate. `attempt` counts from 0.
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number,
  policy: BackoffPolicy = defaultBackoff,
): number {
  const ceiling = backoffCeilingMs(attempt, policy);
  return ceiling / 2 + (random() * ceiling) / 2;
}

/**
 * Attempt `attempt`'s wait (backoffDelayMs), and whether its ceiling is the policy's cap: the attempts
 * after it wait no longer, so lines about them can come less often.
 */
export function backoffWait(
  attempt: number,
  random: () => number,
  policy: BackoffPolicy = defaultBackoff,
): { readonly delayMs: number; readonly atCap: boolean } {
  return {
    delayMs: backoffDelayMs(attempt, random, policy),
    atCap: backoffCeilingMs(attempt, policy) >= policy.capMs,
  };
}

/** The most attempt `attempt` may wait; from some attempt on, the policy's cap. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy = defaultBackoff): number {
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
}
