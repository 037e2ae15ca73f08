/**
 * The key an `Idempotency-Key` header carries. The IETF draft (draft-ietf-httpapi-idempotency-key-header,
 * §2.1) makes the field an Item Structured Header whose value is a String, `Idempotency-Key = sf-string`,
 * as in `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`: the quotes are syntax, not key.
 * Most clients (Stripe's and ours among them) send the key bare, `Idempotency-Key: 8e03978e-…`, which
 * is taken as it is. So a value that begins with a double quote is read as an sf-string (RFC 8941
 * §4.2.5: `\"` and `\\` the only escapes, printable ASCII inside) and its content is the key: `"abc"`
 * and `abc` are one key. One that begins with a quote but is no whole sf-string is refused rather than
 * guessed at: taken as it is, a client that meant the draft's syntax would get a key it never sent.
 */
export type IdempotencyKeyHeader = { readonly key: string } | { readonly problem: string };

export function idempotencyKeyOfHeader(value: string): IdempotencyKeyHeader {
  if (!value.startsWith('"')) return { key: value };
  const refused = (why: string): IdempotencyKeyHeader => ({
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
