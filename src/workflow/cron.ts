/**
 * `on.schedule[].cron` as GitHub takes it: POSIX cron's five fields, each `*`, a value, a range `a-b`,
 * a step (`/n` after `*`, after a range, or after a value, which GitHub's validator also takes), or a
 * comma list of those; month and day-of-week names (JAN-DEC, SUN-SAT) in any case. GitHub refuses
 * anything else, the `@daily` shorthands and a sixth (seconds or year) field included, so Valkyrie
 * refuses it too rather than keep a schedule GitHub would never run.
 */

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min + 1, …, upper case. */
  readonly names?: readonly string[];
}

const cronFields: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const fieldList = 'minute hour day-of-month month day-of-week';

/** The five fields other crons take `@name` for; GitHub takes only the fields. */
const shorthands: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

function shorthandHint(text: string): string {
  if (!text.startsWith('@')) return '';
  const fields = shorthands[text.toLowerCase()];
  return fields === undefined
    ? '; GitHub does not take @ shorthands'
    : `; GitHub does not take @ shorthands, write ${text} as "${fields}"`;
}

/** What is wrong with a cron expression, naming the field; undefined for one GitHub takes. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== cronFields.length)
    return `must have 5 fields (${fieldList}), it has ${parts.length}${shorthandHint(expression.trim())}`;
  for (const [i, field] of cronFields.entries()) {
    const text = parts[i] ?? '';
    const problem = fieldProblem(text, field);
    if (problem !== undefined) return `the ${field.name} field "${text}" ${problem}`;
  }
  return undefined;
}

function fieldProblem(text: string, field: CronField): string | undefined {
  for (const item of text.split(',')) {
    if (item === '') return 'has an empty item in its comma list';
    const problem = itemProblem(item, field);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** One item of a field's comma list: `*`, a value, a range, or either of them with a step. */
function itemProblem(item: string, field: CronField): string | undefined {
  const [base = '', step, ...extra] = item.split('/');
  if (extra.length > 0) return `has more than one step (/) in "${item}"`;
  if (step !== undefined) {
    if (!/^\d+$/.test(step)) return `has a step "${step}" that is not a number`;
    const size = Number(step);
    if (size === 0) return 'has a step of 0; a step is at least 1';
    if (size > field.max) return `has a step of ${size}, past the field's largest value ${field.max}`;
  }
  if (base === '*') return undefined;
  const [start = '', end, ...more] = base.split('-');
  if (more.length > 0) return `has more than one - in "${base}"`;
  const first = value(start, field);
  if (typeof first === 'string') return first;
  if (end === undefined) return undefined;
  const last = value(end, field);
  if (typeof last === 'string') return last;
  if (first > last) return `has a range "${base}" that starts after it ends`;
  return undefined;
}

/** A field's value, by number or name, or what is wrong with it. */
function value(text: string, field: CronField): number | string {
  if (text === '') return 'is missing a value (a range or step needs one on each side)';
  if (text === '*') return 'has * inside a range; use * alone or a range of values';
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return field.min + named;
  const range = `${field.min}-${field.max}`;
  if (!/^\d+$/.test(text)) {
    const names = field.names;
    return names === undefined
      ? `has "${text}", which is not a number (${range})`
      : `has "${text}", which is not a number (${range}) or a name (${names[0]}-${names[names.length - 1]})`;
  }
  const number = Number(text);
  if (number < field.min || number > field.max) return `has ${text}, out of range ${range}`;
  return number;
}
