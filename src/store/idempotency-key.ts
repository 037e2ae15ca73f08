/**
 * The one rule for idempotency keys, wherever one is given: the queue stores, the run stores (`valkyrie
 * run`, the server's Idempotency-Key header), the library and the CLI.
 *
 * Postgres text holds no NUL, and its unique index no entry past about 2.7 kB (a key of 10,000
 * random characters failed there with 'index row requires 10024 bytes'): a key either store would
 * refuse is refused by both, before anything is written.
 */
export const largestIdempotencyKeyBytes = 1024;

/**
 * The first lone UTF-16 surrogate of `text` as U+XXXX, or undefined when it has none. UTF-8 cannot
 * encode one: both stores wrote U+FFFD in its place, so that '\uD800' read back as another string
 * and, on Postgres, matched '\uD801' as one idempotency key.
 */
export function loneSurrogate(text: string): string | undefined {
  const found = /\p{Surrogate}/u.exec(text)?.[0];
  return found === undefined ? undefined : `U+${found.charCodeAt(0).toString(16).toUpperCase()}`;
}

/** Node 20's String.prototype.isWellFormed (ES2024), which TypeScript's ES2023 lib lacks. */
interface WellFormed {
  isWellFormed(): boolean;
}

/** Why `text` cannot be stored as given (a NUL or a lone surrogate), or undefined when it can. */
export function unstorableTextProblem(text: string): string | undefined {
  if (text.includes('\0')) return `${JSON.stringify(text)} holds a NUL character`;
  // Every enqueued job's task passes here: the native check first, the search only for the message.
  const surrogate = (text as unknown as WellFormed).isWellFormed() ? undefined : loneSurrogate(text);
  if (surrogate !== undefined) {
    return `${JSON.stringify(text)} holds a lone UTF-16 surrogate (${surrogate}), which UTF-8 cannot encode`;
  }
  return undefined;
}

/** Why `key` cannot be an idempotency key, or undefined when it can. */
export function idempotencyKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return `expected a non-empty string, received ${String(key)}`;
  const bytes = Buffer.byteLength(key);
  if (bytes > largestIdempotencyKeyBytes) {
    return `expected at most ${largestIdempotencyKeyBytes} bytes (UTF-8), received ${bytes}`;
  }
  return unstorableTextProblem(key);
}

/**
 * Where `key` first holds a character outside printable ASCII (U+0020–U+007E), with that character,
 * or undefined when it holds none. An Idempotency-Key travels as an HTTP header, whose value is ASCII
 * (RFC 9110 §5.5 advises new fields to keep to it; the header's draft makes it a Structured Field
 * String, printable ASCII): Node reads a header's bytes as Latin-1, so a key sent as UTF-8 would be
 * stored as mojibake, another key than the same text sent otherwise. The server refuses such a key,
 * and `valkyrie submit` before sending it.
 */
export function nonAsciiHeaderCharacter(
  key: string,
): { readonly position: number; readonly char: string } | undefined {
  // With u, a character outside the BMP (an emoji) is named whole, not by its first surrogate.
  const found = /[^\x20-\x7E]/u.exec(key);
  return found === null ? undefined : { position: found.index + 1, char: found[0] };
}
