/**
 * The forms a secret may take in a step's output besides its own, each masked as the secret is:
 * actions/runner's value encoders (HostContext registers them on its SecretMasker), so that
 * `echo -n "$TOKEN" | base64`, a URL with the token in it or a JSON document holding it does not show
 * it where GitHub would not. Empty forms, and forms equal to the value, are left out.
 */
export function secretEncodings(value: string): string[] {
  const forms = [
    base64Shifted(value, 0),
    // base64 packs three bytes into four characters, so what precedes the secret (`user:` of a
    // basic-auth header) shifts how it encodes: GitHub masks it at each of the three offsets.
    base64Shifted(value, 1),
    base64Shifted(value, 2),
    value.replaceAll('"', '\\"'),
    value.replaceAll("'", "''"),
    jsonEscape(value),
    uriDataEscape(value),
    xmlEscape(value),
    trimDoubleQuotes(value),
  ];
  return [...new Set(forms)].filter((form) => form !== '' && form !== value);
}

/** .NET's Convert.ToBase64String of the value's UTF-8 bytes from `shift` on (all of them when too few). */
function base64Shifted(value: string, shift: number): string {
  const bytes = Buffer.from(value, 'utf8');
  return (bytes.length > shift ? bytes.subarray(shift) : bytes).toString('base64');
}

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
