/**
 * `JSON.stringify(value)`, byte for byte, for any value. A call of JSON.stringify costs ~0.15 µs
 * however small its value (~4k instructions for a leg's matrix or an offer): strings that need no
 * escaping, numbers, booleans, null, and plain objects of those (a leg's matrix and strategy, an
 * offer) are written here, exactly as it would (~3k for such an object, ~1k for a string); anything
 * else goes to JSON.stringify.
 */
export function valueJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return value === null ? 'null' : objectJson(value);
    default:
      // undefined, a function or a symbol (left out), a bigint (which throws).
      return JSON.stringify(value);
  }
}

/**
 * A plain object whose fields are all strings, numbers, booleans or nulls, written
 * field by field; any other object, or one with any other field (nested, left out, through toJSON),
 * whole by JSON.stringify. for-in, not Object.keys: V8 walks it with the object's enum cache and
 * loads fields directly; only own fields are enumerable, the prototype being Object.prototype.
 */
function objectJson(value: object): string | undefined {
  if (Object.getPrototypeOf(value) !== Object.prototype || 'toJSON' in value) return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  let json = '';
  for (const key in record) {
    const field = record[key];
    let fieldJson: string;
    switch (typeof field) {
      case 'string':
        fieldJson = quote(field);
        break;
      case 'number':
        fieldJson = Number.isFinite(field) ? String(field) : 'null';
        break;
      case 'boolean':
        fieldJson = field ? 'true' : 'false';
        break;
      default:
        if (field !== null) return JSON.stringify(value);
        fieldJson = 'null';
    }
    json += fieldPrefix(key, json === '') + fieldJson;
  }
  return json === '' ? '{}' : `${json}}`;
}

/**
 * What comes before an object's field's value: `{"key":` for its first field, `,"key":` for the
 * others. Messages of a type have the same few keys: each key's two texts are built once, not tested
 * for escapes, quoted and joined to the brace or comma again for every field (there are ~15 a job
 * through the control plane; each concatenation saved is a string the collector need not handle).
 * Keys of their own making (a matrix's) fill the cache up to a bound, and past that are built each time.
 */
export function fieldPrefix(key: string, first: boolean): string {
  let prefixes = fieldPrefixes.get(key);
  if (prefixes === undefined) {
    const json = `${quote(key)}:`;
    prefixes = { first: `{${json}`, other: `,${json}` };
    if (fieldPrefixes.size < maxFieldPrefixes) fieldPrefixes.set(key, prefixes);
  }
  return first ? prefixes.first : prefixes.other;
}

const fieldPrefixes = new Map<string, { readonly first: string; readonly other: string }>();
const maxFieldPrefixes = 256;

function quote(text: string): string {
  return needsEscape.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** What JSON.stringify escapes in a string: quote, backslash, control characters, surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/;
