import { counted } from '../../core/counted.js';
import { ExpressionEvaluationError } from './errors.js';

type Segment = string | { readonly index: number; readonly specifiers: string };

/** Arg indexes are read as .NET bytes: `{256}` is not an index but an invalid format string. */
const maxArgIndex = 255;

/**
 * GitHub's `format()`: `{N}` inserts argument N, `{{` and `}}` are literal braces, anything else with a
 * brace is an error. The whole string is validated before any argument is read, and only referenced
 * arguments are read, as in the runner (so an unused argument that would fail is never evaluated).
 */
export function formatString(
  format: string,
  argCount: number,
  argAt: (index: number) => string,
  offset: number,
): string {
  const segments = splitFormat(format, argCount, offset);
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'string') {
      out += segment;
    } else if (segment.specifiers !== '') {
      // GitHub only accepts specifiers for dates, which expressions never produce.
      throw new ExpressionEvaluationError(
        `format: format specifiers are not supported: '{${segment.index}:${segment.specifiers}}' in '${format}'`,
        offset,
      );
    } else {
      out += argAt(segment.index);
    }
  }
  return out;
}

function splitFormat(format: string, argCount: number, offset: number): Segment[] {
  const invalid = () =>
    new ExpressionEvaluationError(`format: the format string is invalid: '${format}'`, offset);
  const segments: Segment[] = [];
  let i = 0;
  while (i < format.length) {
    const lbrace = format.indexOf('{', i);
    const rbrace = format.indexOf('}', i);
    if (lbrace >= 0 && (rbrace < 0 || rbrace > lbrace)) {
      if (format.charAt(lbrace + 1) === '{') {
        segments.push(format.slice(i, lbrace + 1));
        i = lbrace + 2;
        continue;
      }
      const placeholder = rbrace > lbrace + 1 ? readPlaceholder(format, lbrace + 1) : undefined;
      if (placeholder === undefined) throw invalid();
      // The runner's words (ExpressionResources.InvalidFormatArgIndex), with the index and the count.
      if (placeholder.index > argCount - 1) {
        const which = `{${placeholder.index}}, with ${counted(argCount, 'argument')}`;
        throw new ExpressionEvaluationError(
          `format: the format string references more arguments than were supplied (${which}): '${format}'`,
          offset,
        );
      }
      segments.push(format.slice(i, lbrace), {
        index: placeholder.index,
        specifiers: placeholder.specifiers,
      });
      i = placeholder.end + 1;
    } else if (rbrace >= 0) {
      if (format.charAt(rbrace + 1) !== '}') throw invalid();
      segments.push(format.slice(i, rbrace + 1));
      i = rbrace + 2;
    } else {
      segments.push(format.slice(i));
      break;
    }
  }
  return segments;
}

/** Reads `N}` or `N:specifiers}` starting after a `{`; `end` is the closing brace. */
function readPlaceholder(
  format: string,
  start: number,
): { index: number; specifiers: string; end: number } | undefined {
  let i = start;
  while (i < format.length && format.charAt(i) >= '0' && format.charAt(i) <= '9') i++;
  if (i === start) return undefined;
  const index = Number(format.slice(start, i));
  if (index > maxArgIndex) return undefined;
  if (format.charAt(i) === '}') return { index, specifiers: '', end: i };
  if (format.charAt(i) !== ':') return undefined;
  let specifiers = '';
  for (i++; i < format.length; i++) {
    const c = format.charAt(i);
    if (c !== '}') {
      specifiers += c;
    } else if (format.charAt(i + 1) === '}') {
      specifiers += '}';
      i++;
    } else {
      return { index, specifiers, end: i };
    }
  }
  return undefined;
}
