import { ExpressionEvaluationError } from './errors.js';
import { readJson } from './json-reader.js';
import { type ExpressionValue, formatNumber, isArray } from './values.js';

/** `toJSON()`: two-space indented like the runner's writer, numbers formatted as GitHub formats them. */
export function toJson(value: ExpressionValue): string {
  return write(value, 0);
}

function write(value: ExpressionValue, level: number): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return quote(value);
  const inner = '  '.repeat(level + 1);
  const closing = `\n${'  '.repeat(level)}`;
  if (isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => inner + write(item, level + 1)).join(',\n')}${closing}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([key, item]) => `${inner}${quote(key)}: ${write(item, level + 1)}`).join(',\n')}${closing}}`;
}

// Newtonsoft (the runner's JSON writer) also escapes these line separators, which JSON.stringify leaves raw.
const extraEscapes = /[\u0085\u2028\u2029]/g;

function quote(s: string): string {
  return JSON.stringify(s).replace(
    extraEscapes,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const maxQuotedJson = 100;

/** `fromJSON()`: JSON as the runner's reader takes it (json-reader.ts); the error quotes (the start of) what was received. */
export function fromJson(text: string, offset: number): ExpressionValue {
  try {
    return readJson(text);
  } catch (error) {
    const excerpt = text.length > maxQuotedJson ? `${text.slice(0, maxQuotedJson)}…` : text;
    const detail = error instanceof Error ? `: ${error.message}` : '';
    throw new ExpressionEvaluationError(
      `fromJSON: invalid JSON ${JSON.stringify(excerpt)}${detail}`,
      offset,
      {
        cause: error,
      },
    );
  }
}
