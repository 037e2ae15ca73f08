/**
 * Repeats an unrecorded round until `warmUpMs` (default 1 s) have passed, at least once: the
 * optimizing compiler needs a while on 2 busy cores, and a long-running service is measured in its
 * steady state, not while it compiles. A fixed count would warm a fast case for less time than a slow one.
 */
export async function warmUp(round, warmUpMs = 1_000) {
  const until = performance.now() + warmUpMs;
  do await round();
  while (performance.now() < until);
}
