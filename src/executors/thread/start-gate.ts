/**
 * Which of a lost worker's tasks never began, so the pool can run them elsewhere instead of ending
 * them `worker_lost`.
 *
 * A task the pool sends into a free slot (a "slot task") sends no STARTED record, to save a message
 * per task: the pool counts it as started when it sends it. But a worker runs the tasks of a RUN
 * message one after another, and a task that blocks the thread (a busy loop, an allocation that
 * runs out of memory) or ends it (`process.exit`) keeps the tasks after it from ever beginning:
 * those tasks sat next to the faulty one by chance, and have done nothing.
 *
 * So the worker counts slot tasks as it begins them, in the order they arrive, which is the order
 * the pool sent them: the count tells the pool exactly which of them began. The count lives in
 * memory both threads share, as one Int32 word that also serves as a gate: when the pool gives a
 * worker up, it swaps the word for `closed` in one atomic step, reading the final count. From then
 * on the worker begins nothing, so a task the pool takes back never runs in the dying worker too,
 * even when the worker is still alive (a slow task mistaken for a hung one).
 */

/** Index of the gate's word in the Int32Array over the worker's heartbeat buffer. */
export const startGateIndex = 1;
/** Int32 words in the heartbeat buffer: the heartbeat, then the gate. */
export const heartbeatWords = 2;

const closed = -1;

/** The worker's side: counts a slot task that begins now; false once the gate is closed. */
export function countSlotTask(words: Int32Array): boolean {
  for (;;) {
    const count = Atomics.load(words, startGateIndex);
    if (count === closed) return false;
    if (Atomics.compareExchange(words, startGateIndex, count, count + 1) === count) return true;
  }
}

/** The worker's side: whether tasks may still begin. */
export function gateOpen(words: Int32Array): boolean {
  return Atomics.load(words, startGateIndex) !== closed;
}

/** The pool's side: closes the gate and returns how many slot tasks began; call it once. */
export function closeGate(words: Int32Array): number {
  const count = Atomics.exchange(words, startGateIndex, closed);
  if (count === closed) throw new Error('the start gate was closed twice');
  return count;
}
