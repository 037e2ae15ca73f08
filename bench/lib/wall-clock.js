/**
 * This process's wall clock in ms, to sub-millisecond precision: performance.now() from the
 * timeOrigin the process fixed from the system clock when it started. Two processes' readings can
 * stand apart (a clock step or slew between their starts), so a time another process reports is
 * compared only after its offset (clockOffset) is taken off.
 */
export const wallNow = () => performance.timeOrigin + performance.now();

/** Clock readings exchanged to find another process's clock offset; the shortest round trip counts. */
const clockRounds = 9;

/**
 * Another process's wall clock minus this one's, in ms. `ask()` sends that process one request for
 * its wallNow() and resolves with the reading; of `clockRounds` requests, the one whose round trip
 * took least time counts, as the midpoint of its round trip is nearest the moment it was read.
 */
export async function clockOffset(ask) {
  let best = { roundTripMs: Number.POSITIVE_INFINITY, offsetMs: 0 };
  for (let round = 0; round < clockRounds; round++) {
    const sent = wallNow();
    const theirs = await ask();
    const received = wallNow();
    if (received - sent < best.roundTripMs)
      best = { roundTripMs: received - sent, offsetMs: theirs - (sent + received) / 2 };
  }
  return best.offsetMs;
}
