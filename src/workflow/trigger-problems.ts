import { isRecord } from '../core/is-record.js';
import { activityTypeProblems, activityTypesOf, typesListOnly } from './activity-types.js';
import { cronProblem } from './cron.js';
import { closestMatch } from './diagnostics.js';
import { eventKeys } from './github-events.js';
import { type InputProblem, inputTriggerJsonSchema, untypedCallInputs } from './inputs.js';
import { describeValue } from './schema-issues.js';

const events = Object.keys(eventKeys);

/** A problem with `on:`, at the key its path ends in unless `atValue`, as a wrong entry in a list is. */
export interface TriggerProblem extends InputProblem {
  readonly atValue?: boolean;
}

/** Filters of which GitHub takes one or the other for an event, not both. */
const exclusiveFilters = [
  ['branches', 'branches-ignore'],
  ['tags', 'tags-ignore'],
  ['paths', 'paths-ignore'],
] as const;

/**
 * What is wrong with `on:` beside its inputs: an event GitHub does not know, a key an event does not
 * take, a filter that is not a pattern or a list of them, a filter with its `-ignore` twin, a
 * `schedule` that is not a list of `cron:` entries, a cron GitHub would refuse (cron.ts), a
 * `workflow_call` input without a type, a `types` entry that is not one of the event's activity types
 * (activity-types.ts). Empty for a workflow without `on:`, which Valkyrie runs as the `local` event.
 */
export function triggerProblems(on: unknown): TriggerProblem[] {
  const problems: TriggerProblem[] = [];
  if (on === undefined || on === null) return problems;
  if (typeof on === 'string') {
    eventName(on, ['on'], problems);
  } else if (Array.isArray(on)) {
    for (const [i, item] of on.entries()) {
      if (typeof item === 'string') eventName(item, ['on', i], problems);
      else
        problems.push({
          path: ['on', i],
          message:
            'on: as a list names events, each a string; use a mapping (on: { push: … }) to configure one',
        });
    }
  } else if (isRecord(on)) {
    for (const [name, spec] of Object.entries(on)) {
      if (eventName(name, ['on', name], problems)) eventSettings(name, spec, problems);
    }
  } else {
    problems.push({
      path: ['on'],
      message: `on must be an event name, a list of them, or a mapping of events to their settings, received ${JSON.stringify(on)}`,
    });
  }
  return problems;
}

/** Whether `name` is one of GitHub's events; reports it when it is not. */
function eventName(name: string, path: (string | number)[], problems: InputProblem[]): boolean {
  if (Object.hasOwn(eventKeys, name)) return true;
  const hint = closestMatch(name, events);
  problems.push({
    path,
    message:
      hint === undefined
        ? `unknown event "${name}": GitHub starts workflows for ${events.join(', ')}`
        : `unknown event "${name}" (did you mean "${hint}"?)`,
  });
  return false;
}

function eventSettings(event: string, spec: unknown, problems: TriggerProblem[]): void {
  // Checked with their inputs (inputs.ts), but for the type a called workflow's input needs: that is
  // newer, so a stored run's text is only warned of it.
  if (event === 'workflow_call') problems.push(...untypedCallInputs(spec));
  if (event === 'workflow_dispatch' || event === 'workflow_call') return;
  const base = ['on', event];
  if (event === 'schedule') {
    scheduleProblems(spec, problems);
    return;
  }
  if (spec === null) return;
  const keys = eventKeys[event] ?? [];
  if (keys.length === 0) {
    problems.push({
      path: base,
      message: `on.${event} takes no settings; write it as ${event}: with nothing after it`,
    });
    return;
  }
  if (!isRecord(spec)) {
    problems.push({
      path: base,
      message: `on.${event} must be a mapping of its settings (${keys.join(', ')}) or empty, received ${JSON.stringify(spec)}`,
    });
    return;
  }
  for (const [key, value] of Object.entries(spec)) {
    if (!keys.includes(key)) {
      const hint = closestMatch(key, keys);
      problems.push({
        path: [...base, key],
        message: `unknown key "${key}" in on.${event}${hint === undefined ? '' : ` (did you mean "${hint}"?)`} (known: ${keys.join(', ')})`,
      });
    } else if (key === 'types' && typesListOnly(event) && !isNameList(value)) {
      problems.push({
        path: [...base, key],
        atValue: true,
        message: `on.${event}.types must be a list of non-empty names, as GitHub takes it (types: [${nonEmptyString(value) ? value : 'deploy'}]), received ${JSON.stringify(value)}`,
      });
    } else if (!isPatterns(value)) {
      problems.push({
        path: [...base, key],
        message: `on.${event}.${key} must be a non-empty string or a list of them, received ${JSON.stringify(value)}`,
      });
    } else if (key === 'types') {
      for (const problem of activityTypeProblems(event, value)) problems.push({ ...problem, atValue: true });
    }
  }
  for (const [filter, ignore] of exclusiveFilters) {
    if (spec[filter] !== undefined && spec[ignore] !== undefined)
      problems.push({
        path: [...base, ignore],
        message: `on.${event} has both ${filter} and ${ignore}; GitHub takes one of them for an event (negate a pattern with ! in ${filter} to leave some out)`,
      });
  }
}

const scheduleKeys = ['cron', 'timezone'];

function scheduleProblems(spec: unknown, problems: InputProblem[]): void {
  const shape = 'on.schedule must be a list of entries with a cron: (- cron: "30 5 * * 1")';
  if (!Array.isArray(spec) || spec.length === 0) {
    problems.push({ path: ['on', 'schedule'], message: shape });
    return;
  }
  for (const [i, entry] of spec.entries()) {
    if (!isRecord(entry)) {
      problems.push({ path: ['on', 'schedule', i], message: shape });
      continue;
    }
    if (typeof entry.cron !== 'string' || entry.cron.trim() === '') {
      problems.push({
        path: ['on', 'schedule', i],
        message: `on.schedule[${i}] needs a cron: with a schedule ("30 5 * * 1"), ${entry.cron === undefined ? 'and has none' : `received ${describeValue(entry.cron)}`}`,
      });
    } else {
      const problem = cronProblem(entry.cron);
      if (problem !== undefined)
        problems.push({
          path: ['on', 'schedule', i, 'cron'],
          message: `on.schedule[${i}].cron ${JSON.stringify(entry.cron)} ${problem}`,
        });
    }
    for (const key of Object.keys(entry)) {
      if (scheduleKeys.includes(key)) continue;
      const hint = closestMatch(key, scheduleKeys);
      problems.push({
        path: ['on', 'schedule', i, key],
        message: `unknown key "${key}" in on.schedule[${i}]${hint === undefined ? '' : ` (did you mean "${hint}"?)`} (known: ${scheduleKeys.join(', ')})`,
      });
    }
  }
}

const nonEmptyString = (item: unknown): item is string => typeof item === 'string' && item !== '';

function isPatterns(value: unknown): value is string | string[] {
  return nonEmptyString(value) || isNameList(value);
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(nonEmptyString);
}

/**
 * `on:` as JSON Schema, for `valkyrie schema` (the zod schema takes any value, and triggerProblems
 * and inputs.ts check it): the same events and keys, so an editor flags what the validator refuses.
 */
export function triggersJsonSchema(): Record<string, unknown> {
  const properties = Object.fromEntries(events.map((event) => [event, eventJsonSchema(event)]));
  return {
    description:
      'The events that start the workflow: an event, a list of them, or a mapping of events to their settings',
    anyOf: [
      { type: 'string', enum: events },
      { type: 'array', items: { type: 'string', enum: events } },
      { type: 'object', properties, additionalProperties: false },
    ],
  };
}

const nameListJsonSchema = { type: 'array', items: { type: 'string', minLength: 1 } };

const patternsJsonSchema = { anyOf: [{ type: 'string', minLength: 1 }, nameListJsonSchema] };

function eventJsonSchema(event: string): Record<string, unknown> {
  if (event === 'workflow_dispatch' || event === 'workflow_call') return inputTriggerJsonSchema(event);
  if (event === 'schedule') {
    return {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          cron: {
            type: 'string',
            minLength: 1,
            description:
              'POSIX cron, 5 fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-6 or SUN-SAT); each *, a value, a range a-b, a step /n, or a comma list',
          },
          timezone: { type: 'string' },
        },
        required: ['cron'],
        additionalProperties: false,
      },
    };
  }
  const keys = eventKeys[event] ?? [];
  if (keys.length === 0) return { type: 'null' };
  const properties = Object.fromEntries(
    keys.map((key) => [key, key === 'types' ? typesJsonSchema(event) : patternsJsonSchema]),
  );
  return { anyOf: [{ type: 'null' }, { type: 'object', properties, additionalProperties: false }] };
}

/** An event's `types`: one of its activity types or a list of them, or a list of any names when they are free. */
function typesJsonSchema(event: string): Record<string, unknown> {
  if (typesListOnly(event)) return nameListJsonSchema;
  const allowed = activityTypesOf(event);
  if (allowed === undefined) return patternsJsonSchema;
  const type = { type: 'string', enum: allowed };
  return { anyOf: [type, { type: 'array', items: type }] };
}
