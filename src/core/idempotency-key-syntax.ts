/**
 * How an idempotency key is written where a person or a client gives one: the server's
 * `Idempotency-Key` header, and `--idempotency-key` of `valkyrie run` and `valkyrie submit`, so that a
 * key is one key everywhere. The IETF draft (draft-ietf-httpapi-idempotency-key-header, §2.1) makes the
 * header an Item Structured Header whose value is a String, `Idempotency-Key = sf-string`, as in
 * `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`: the quotes are syntax, not key. Most
 * clients (Stripe's and ours among them) send the key bare, `Idempotency-Key: 8e03978e-…`, which is
 * taken as it is. So a value that begins with a double quote is read as an sf-string (RFC 8941 §4.2.5:
 * `\"` and `\\` the only escapes, printable ASCII inside) and its content is the key: `"abc"` and `abc`
 * are one key. One that begins with a quote but is no whole sf-string is refused rather than guessed
 * at: taken as it is, a client that meant the draft's syntax would get a key it never sent.
 */
export type WrittenIdempotencyKey = { readonly key: string } | { readonly problem: string };

/** The key `value` writes, or why it writes none (the caller names the header or the option). */
export function readIdempotencyKey(value: string): WrittenIdempotencyKey {
  if (!value.startsWith('"')) return { key: value };
  const refused = (why: string): WrittenIdempotencyKey => ({
    problem: `a value that begins with a double quote is a Structured Field String (RFC 8941 §3.3.3), as the Idempotency-Key draft makes it: ${why}, received ${JSON.stringify(value)}`,
  });
  let key = '';
  for (let at = 1; at < value.length; at++) {
    const char = value.charAt(at);
    if (char === '\\') {
      const escaped = value.charAt(at + 1);
      if (escaped !== '"' && escaped !== '\\')
        return refused(`a backslash escapes only " or \\ (at character ${at + 1})`);
      key += escaped;
      at++;
    } else if (char === '"') {
      const rest = value.slice(at + 1);
      // RFC 8941 would read parameters here (`"k";p=1`); the draft defines none, so none is taken.
      if (rest !== '')
        return refused(`expected nothing after its closing quote, found ${JSON.stringify(rest)}`);
      if (key === '') return refused('expected a non-empty string between the quotes');
      return { key };
    } else if (char < ' ' || char > '~') {
      return refused(`expected printable ASCII only (at character ${at + 1})`);
    } else {
      key += char;
    }
  }
  return refused('expected a closing double quote');
}

/**
 * The `Idempotency-Key` header value that carries `key` (printable ASCII: nonAsciiHeaderCharacter).
 * Bare, as Stripe's clients send one and as a server from before the quoted form reads one (it would
 * keep a quoted key's quotes as part of the key, and find no key a bare request stored), unless the
 * bare value would be read as another key: one that begins with `"` (read as an sf-string, above) or
 * with or ending in a space (HTTP drops a field value's surrounding whitespace, RFC 9110 §5.5). Such
 * a key goes as the draft's sf-string, the one form that carries it.
 */
export function idempotencyKeyHeaderValue(key: string): string {
  if (!key.startsWith('"') && key.trim() === key) return key;
  return `"${key.replace(/["\\]/g, '\\$&')}"`;
}
