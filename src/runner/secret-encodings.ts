/**
 * The forms a secret may take in a step's output besides its own, each masked as the secret is:
 * actions/runner's value encoders (HostContext registers them on its SecretMasker), so that
 * `echo "$TOKEN" | base64`, a URL with the token in it or a JSON document holding it does not show
 * it where GitHub would not. Empty forms, and forms equal to the value, are left out.
 */
export function secretEncodings(value: string): string[] {
  const forms = [
    // base64 packs three bytes into four characters, so what precedes the secret (`user:` of a
    // basic-auth header) shifts how it encodes: GitHub masks it at each of the three offsets.
    ...[0, 1, 2].flatMap((shift) => base64Forms(value, shift)),
    value.replaceAll('"', '\\"'),
    value.replaceAll("'", "''"),
    jsonEscape(value),
    uriDataEscape(value),
    xmlEscape(value),
    trimDoubleQuotes(value),
  ];
  return [...new Set(forms)].filter((form) => form !== '' && form !== value);
}

/**
 * The base64 of the value's UTF-8 bytes from `shift` on, whole and cut to the characters those bytes
 * alone decide, in both alphabets (standard and RFC 4648's URL-safe): the last character of a length not
 * divisible by three also holds bits of what follows the secret (`echo "$TOKEN" | base64` encodes a
 * newline after it), so the whole encoding, padding and all, is found only when the secret ends the
 * input. Forms shorter than `minBase64Form` are left out: a short run of base64 turns up in
 * unrelated base64 output, and masking it there would garble that output for nothing.
 */
function base64Forms(value: string, shift: number): string[] {
  const bytes = Buffer.from(value, 'utf8').subarray(shift);
  const whole = bytes.toString('base64');
  const decided = whole.slice(0, Math.floor((bytes.length * 8) / 6));
  if (decided.length < minBase64Form) return [];
  // The whole encoding too, so that one ending the output is masked to its last `=`.
  return [whole, decided].flatMap((form) => [form, form.replaceAll('+', '-').replaceAll('/', '_')]);
}

const minBase64Form = 6;

/** Newtonsoft's JsonConvert.ToString without its quotes: `"`, `\` and control characters escaped. */
function jsonEscape(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** .NET's Uri.EscapeDataString: all but RFC 3986's unreserved characters percent-encoded. */
function uriDataEscape(value: string): string {
  try {
    return encodeURIComponent(value).replace(
      /[!'()*]/g,
      (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  } catch {
    // A lone surrogate cannot be encoded (.NET refuses it too); the other forms still apply.
    return '';
  }
}

/** .NET's SecurityElement.Escape. */
function xmlEscape(value: string): string {
  return value.replace(/[<>"'&]/g, (char) => xmlEntities[char] ?? char);
}

const xmlEntities: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '&': '&amp;',
};

/** A quoted value longer than 8 characters is also masked without its quotes. */
function trimDoubleQuotes(value: string): string {
  return value.length > 8 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : '';
}
