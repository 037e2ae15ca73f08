import { ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import { closestMatch } from './diagnostics.js';
import { takesInputs, triggersOf } from './triggers.js';

/**
 * A run's inputs, declared as GitHub declares them for a manually started workflow:
 *
 * ```yaml
 * on:
 *   workflow_dispatch:
 *     inputs:
 *       target: { type: choice, options: [staging, production], required: true }
 *       dry-run: { type: boolean, default: true }
 * ```
 *
 * `valkyrie run --input NAME=VALUE`, `submit --input` and the API's `inputs` give the values; the
 * `inputs` context has them typed (booleans and numbers as such), `github.event.inputs` as strings.
 */
export interface InputDefinition {
  readonly name: string;
  readonly type: InputType;
  readonly required: boolean;
  readonly default?: InputValue;
  /** A `choice` input's allowed values. */
  readonly options?: readonly string[];
  readonly description?: string;
}

export type InputType = (typeof inputTypes)[number];
export type InputValue = string | number | boolean;

const inputTypes = ['string', 'boolean', 'number', 'choice', 'environment'] as const;
const inputKeys = ['description', 'required', 'default', 'type', 'options', 'deprecationMessage'];
const namePattern = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export interface InputProblem {
  /** Where under the document, e.g. ['on', 'workflow_dispatch', 'inputs', 'target', 'options']. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * The inputs `on:` declares, and what is wrong with the declarations: `workflow_dispatch`'s, and a
 * reusable workflow's `workflow_call` inputs (string, number or boolean) that it does not declare
 * too — a workflow both started by hand and called usually declares the same inputs for each; a
 * local run of a called workflow has no caller, so `--input` gives what the caller's `with:` would.
 * `on: push` and the like declare none.
 */
export function declaredInputs(on: unknown): { inputs: InputDefinition[]; problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  const trigger = (name: string) => (isRecord(on) ? on[name] : undefined);
  const inputs = triggerInputs(trigger('workflow_dispatch'), dispatchTrigger, problems);
  const declared = new Set(inputs.map((input) => input.name));
  // A caller gives a required input; a run started by another event has none, so it is required
  // only of a workflow that is called and nothing else.
  const calledOnly = triggersOf(on).length === 1;
  for (const input of triggerInputs(trigger('workflow_call'), callTrigger, problems))
    if (!declared.has(input.name)) inputs.push(calledOnly ? input : { ...input, required: false });
  return { inputs, problems };
}

interface InputTrigger {
  readonly name: string;
  /** Its keys beside `inputs`, which declare no inputs. */
  readonly otherKeys: readonly string[];
  readonly types: readonly InputType[];
}

const dispatchTrigger: InputTrigger = { name: 'workflow_dispatch', otherKeys: [], types: inputTypes };
const callTrigger: InputTrigger = {
  name: 'workflow_call',
  otherKeys: ['outputs', 'secrets'],
  types: ['string', 'number', 'boolean'],
};

/**
 * The `workflow_call` inputs declared without `type:`, which GitHub requires of a called workflow's
 * inputs (and not of workflow_dispatch's). declaredInputs still reads such an input as a string, so
 * that a stored run an earlier Valkyrie admitted reads as it did; trigger-problems.ts reports these.
 */
export function untypedCallInputs(spec: unknown): InputProblem[] {
  const declared = isRecord(spec) ? spec.inputs : undefined;
  if (!isRecord(declared)) return [];
  const types = callTrigger.types.join(', ');
  return Object.entries(declared)
    .filter(([, fields]) => fields === null || (isRecord(fields) && fields.type === undefined))
    .map(([name]) => ({
      path: ['on', 'workflow_call', 'inputs', name],
      message: `input "${name}" of workflow_call needs a type: (${types}); GitHub requires one for a called workflow's inputs`,
    }));
}

function triggerInputs(spec: unknown, trigger: InputTrigger, problems: InputProblem[]): InputDefinition[] {
  const inputs: InputDefinition[] = [];
  const base = ['on', trigger.name];
  if (spec === undefined || spec === null) return inputs;
  if (!isRecord(spec)) {
    problems.push({ path: base, message: `${trigger.name} must be a mapping (with inputs:) or empty` });
    return inputs;
  }
  const known = ['inputs', ...trigger.otherKeys];
  for (const key of Object.keys(spec)) {
    if (!known.includes(key))
      problems.push({ path: [...base, key], message: `unknown key "${key}" (known: ${known.join(', ')})` });
  }
  const declared = spec.inputs;
  if (declared === undefined || declared === null) return inputs;
  if (!isRecord(declared)) {
    problems.push({ path: [...base, 'inputs'], message: 'inputs must be a mapping of input names' });
    return inputs;
  }
  for (const [name, fields] of Object.entries(declared)) {
    const found = inputDefinition(name, fields, [...base, 'inputs', name], trigger.types, problems);
    if (found !== undefined) inputs.push(found);
  }
  return inputs;
}

function inputDefinition(
  name: string,
  spec: unknown,
  at: readonly (string | number)[],
  types: readonly InputType[],
  problems: InputProblem[],
): InputDefinition | undefined {
  const problem = (message: string, key?: string) =>
    void problems.push({ path: key === undefined ? at : [...at, key], message });
  if (!namePattern.test(name))
    problem(`input name "${name}" must start with a letter or _ and contain only letters, digits, - and _`);
  const fields = spec === null || spec === undefined ? {} : spec;
  if (!isRecord(fields)) {
    problem(`input "${name}" must be a mapping (type, default, required, …)`);
    return undefined;
  }
  for (const key of Object.keys(fields)) {
    if (inputKeys.includes(key)) continue;
    const hint = closestMatch(key, inputKeys);
    problem(
      `unknown key "${key}" in input "${name}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`,
      key,
    );
  }
  const type = fields.type ?? 'string';
  if (typeof type !== 'string' || !(types as readonly string[]).includes(type)) {
    problem(
      `input "${name}": type must be one of ${types.join(', ')}, received ${JSON.stringify(type)}`,
      'type',
    );
    return undefined;
  }
  const required = fields.required ?? false;
  if (typeof required !== 'boolean') problem(`input "${name}": required must be true or false`, 'required');
  const description = typeof fields.description === 'string' ? fields.description : undefined;
  let options: string[] | undefined;
  if (type === 'choice') {
    const list = fields.options;
    if (!Array.isArray(list) || list.length === 0 || !list.every(isScalar)) {
      problem(`input "${name}": a choice input needs options, a non-empty list of values`, 'options');
      return undefined;
    }
    options = list.map(String);
  }
  const definition = { name, type: type as InputType, required: required === true, options, description };
  if (fields.default === undefined || fields.default === null) return definition;
  const coerced = coerce(definition, fields.default);
  if ('problem' in coerced) {
    problem(`input "${name}": the default ${coerced.problem}`, 'default');
    return undefined;
  }
  return { ...definition, default: coerced.value };
}

/** VK_INVALID_INPUT about one input: `input` names it, for an API error's path. */
export class InputError extends ValkyrieError {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super('VK_INVALID_INPUT', message);
  }
}

/**
 * The `inputs` context of a run given `values` (strings from the command line, or JSON scalars from
 * the API): each declared input's value, coerced to its type, else its default, else empty (false
 * for a boolean). Throws VK_INVALID_INPUT, naming the input, for an unknown one, a missing required
 * one (followed by `howToGive(name)`, how the caller's user gives it), or a value its type does not
 * allow.
 */
export function resolveInputs(
  declared: readonly InputDefinition[],
  values: Readonly<Record<string, unknown>>,
  howToGive: (name: string) => string = () => '',
): Record<string, InputValue> {
  const byName = new Map(declared.map((input) => [input.name, input]));
  for (const name of Object.keys(values)) {
    if (byName.has(name)) continue;
    const known = declared.map((input) => input.name);
    throw new InputError(
      name,
      known.length === 0
        ? `unknown input "${name}": the workflow declares no inputs (on.workflow_dispatch.inputs, on.workflow_call.inputs)`
        : `unknown input "${name}"; the workflow declares ${known.join(', ')}`,
    );
  }
  const resolved: Record<string, InputValue> = {};
  for (const input of declared) {
    const given = values[input.name];
    if (given === undefined && input.required && input.default === undefined)
      throw new InputError(input.name, `input "${input.name}" is required${howToGive(input.name)}`);
    const coerced =
      given === undefined ? { value: input.default ?? emptyValue(input) } : coerce(input, given);
    if ('problem' in coerced) throw new InputError(input.name, `input "${input.name}" ${coerced.problem}`);
    resolved[input.name] = coerced.value;
  }
  return resolved;
}

/**
 * The `inputs` context of a run started as `event`: resolveInputs' for workflow_dispatch and
 * workflow_call, and empty for any other event, as on GitHub, where a push or schedule run of a
 * workflow that declares dispatch inputs gets neither their values nor their defaults (nor is a
 * required one asked of it). Values given with another event are still checked, so that one the
 * workflow does not declare is refused as unknown (chooseEvent refuses them with an event named).
 */
export function runInputs(
  declared: readonly InputDefinition[],
  event: string,
  values: Readonly<Record<string, unknown>>,
  howToGive?: (name: string) => string,
): Record<string, InputValue> {
  if (!takesInputs(event) && Object.keys(values).length === 0) return {};
  return resolveInputs(declared, values, howToGive);
}

/**
 * The note `valkyrie run` and `submit` write when the event they chose for a run (no `--event`) has
 * no inputs though the workflow declares some: a local run of `on: [push, workflow_dispatch]` starts
 * as push, where `if: ${{ !inputs.dry_run }}` is true, which a user who reads the defaults in the file
 * may not expect. Undefined when there is nothing to tell.
 */
export function inputlessEventNote(
  declared: readonly InputDefinition[],
  triggers: readonly string[],
  event: string,
): string | undefined {
  if (declared.length === 0 || takesInputs(event)) return undefined;
  const names = declared.map((input) => `inputs.${input.name}`);
  const shown =
    names.length <= 3
      ? names.join(', ').replace(/, ([^,]*)$/, ' and $1')
      : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  const withInputs = triggers.includes('workflow_dispatch') ? 'workflow_dispatch' : 'workflow_call';
  return `the run starts as ${event}, which has no inputs on GitHub: ${shown} ${names.length === 1 ? 'is' : 'are'} empty, not ${names.length === 1 ? 'its default' : 'their defaults'}; --event ${withInputs} gives ${names.length === 1 ? 'it' : 'them'}`;
}

/** `github.event.inputs`: every value as a string, as GitHub gives them. */
export function eventInputs(inputs: Readonly<Record<string, InputValue>>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, String(value)]));
}

/** For resolveInputs' `howToGive` in `valkyrie run` and `submit`. */
export const inputFlagHint = (name: string): string => `: give it with --input ${name}=VALUE`;

function emptyValue(input: InputDefinition): InputValue {
  return input.type === 'boolean' ? false : '';
}

type Coerced = { readonly value: InputValue } | { readonly problem: string };

/** The value as the input's type has it, or what is wrong with it. */
function coerce(input: Pick<InputDefinition, 'type' | 'options'>, given: unknown): Coerced {
  if (!isScalar(given))
    return { problem: `must be a string, number or boolean, received ${describe(given)}` };
  switch (input.type) {
    case 'boolean': {
      if (typeof given === 'boolean') return { value: given };
      const text = String(given).trim().toLowerCase();
      if (text === 'true' || text === 'false') return { value: text === 'true' };
      return { problem: `must be true or false, received ${JSON.stringify(given)}` };
    }
    case 'number': {
      const text = String(given).trim();
      const number = typeof given === 'number' ? given : text === '' ? Number.NaN : Number(text);
      if (Number.isFinite(number)) return { value: number };
      return { problem: `must be a number, received ${JSON.stringify(given)}` };
    }
    case 'choice': {
      const text = String(given);
      const options = input.options ?? [];
      if (options.includes(text)) return { value: text };
      return { problem: `must be one of ${options.join(', ')}, received ${JSON.stringify(given)}` };
    }
    default:
      return { value: String(given) };
  }
}

function isScalar(value: unknown): value is InputValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

/**
 * `on.workflow_dispatch` or `on.workflow_call` as JSON Schema, for `valkyrie schema`: the keys and
 * input fields declaredInputs takes, from the same lists, so an editor flags the unknown key, input
 * type or name it refuses. Looser where only a value's meaning is checked (a default of its type).
 */
export function inputTriggerJsonSchema(
  event: 'workflow_dispatch' | 'workflow_call',
): Record<string, unknown> {
  const trigger = event === 'workflow_dispatch' ? dispatchTrigger : callTrigger;
  const type = { enum: [...trigger.types], description: 'The input\u2019s type (default string)' };
  const choiceOptions = { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean'] } };
  const fields = {
    type: 'object',
    properties: {
      description: {},
      required: { type: ['boolean', 'null'], description: 'The run must give it (default false)' },
      default: { type: ['string', 'number', 'boolean', 'null'] },
      // workflow_call has no `choice` type, and `options` does nothing without it, as declaredInputs reads it.
      type: event === 'workflow_call' ? { ...type, description: 'The input\u2019s type (required)' } : type,
      // Read only for a choice input (below): any other type ignores it.
      options: { description: 'A choice input\u2019s values' },
      deprecationMessage: {},
    },
    additionalProperties: false,
    ...(event === 'workflow_call'
      ? { required: ['type'] }
      : {
          // A choice input has options (written as anyOf: a `then` key would make the object a thenable).
          anyOf: [
            { properties: { type: { not: { const: 'choice' } } } },
            { required: ['options'], properties: { options: choiceOptions } },
          ],
        }),
  };
  const inputs = {
    type: ['object', 'null'],
    propertyNames: { pattern: namePattern.source },
    // A called workflow's input without its mapping has no type, which GitHub requires.
    additionalProperties: event === 'workflow_call' ? fields : { anyOf: [{ type: 'null' }, fields] },
    description: 'The run\u2019s inputs, given with --input NAME=VALUE',
  };
  const others = Object.fromEntries(trigger.otherKeys.map((key) => [key, {}]));
  return {
    anyOf: [
      { type: 'null' },
      { type: 'object', properties: { inputs, ...others }, additionalProperties: false },
    ],
  };
}
