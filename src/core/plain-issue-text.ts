import type * as z from 'zod';

/** A JSON value in words, for messages: `the number 5`, `an array`, `null`. */
export function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing (the key is required)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' || typeof value === 'string'
    ? `a ${typeof value}`
    : `the ${typeof value} ${String(value)}`;
}

/** A value a request sent, as a message shows it: a short string or number as it is. */
function shown(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return typeof value === 'number' ? String(value) : describeJson(value);
}

const expectedWords: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

/**
 * An issue of an API request or a protocol frame in plainer words than zod's defaults ("Invalid
 * input: expected record, received array"), for `safeParse`'s `error` option: a schema's own message
 * still comes first, and an issue not handled here (undefined) keeps zod's.
 */
export function plainIssueText(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `expected ${expectedWords[issue.expected] ?? issue.expected}, received ${describeJson(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(shown).join(', ')}; received ${shown(issue.input)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map(shown).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return sizeText(issue);
    default:
      return undefined;
  }
}

/** `safeParse`'s options for plainIssueText, made once: the protocol's decoders parse with them per message. */
export const plainIssues = { error: plainIssueText } as const;

function sizeText(issue: z.core.$ZodRawIssue<z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig>): string {
  const least = issue.code === 'too_small';
  const bound = Number(least ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  const which = least ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
  if (issue.origin === 'string')
    return bound === 1 && least ? 'must not be empty' : `must be ${which} ${bound} characters long`;
  if (issue.origin === 'array' || issue.origin === 'set')
    return `must have ${which} ${bound} item${bound === 1 ? '' : 's'}`;
  return `must be ${which} ${bound}; received ${shown(issue.input)}`;
}
