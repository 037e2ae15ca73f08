/**
 * A statement's values as Postgres can store them. Its text cannot hold NUL (U+0000): a statement with
 * one fails ("invalid byte sequence for encoding UTF8: 0x00"), and a step that wrote one to its outputs
 * made every later write of its run fail (a step named after the output, its log), for good — the run
 * wedged, a server re-ran the job in a loop. NUL is stored as U+FFFD, as a terminal shows a byte it
 * cannot print; SQLite keeps it. A copy only when a value has one: most statements pass as they are.
 */
export function storableValues(values: readonly unknown[]): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'string' || !value.includes('\u0000')) continue;
    copy ??= [...values];
    copy[i] = value.replaceAll('\u0000', '\uFFFD');
  }
  return copy ?? [...values];
}
