import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../src/core/errors.js';
import {
  declaredInputs,
  eventInputs,
  inputlessEventNote,
  resolveInputs,
  runInputs,
  untypedCallInputs,
} from '../../src/workflow/inputs.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

const dispatch = (inputs: unknown) => ({ workflow_dispatch: { inputs } });

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isValkyrieError(error) && error.code === 'VK_INVALID_INPUT') return error.message;
    throw error;
  }
  throw new Error('expected VK_INVALID_INPUT');
}

describe('declaredInputs', () => {
  it('reads workflow_dispatch inputs with their types, defaults and options', () => {
    const { inputs, problems } = declaredInputs(
      dispatch({
        target: { type: 'choice', options: ['staging', 'production'], required: true },
        'dry-run': { type: 'boolean', default: 'true', description: 'say, do not do' },
        retries: { type: 'number', default: 3 },
        note: null,
      }),
    );
    expect(problems).toEqual([]);
    expect(inputs).toEqual([
      {
        name: 'target',
        type: 'choice',
        required: true,
        options: ['staging', 'production'],
        description: undefined,
      },
      {
        name: 'dry-run',
        type: 'boolean',
        required: false,
        options: undefined,
        description: 'say, do not do',
        default: true,
      },
      {
        name: 'retries',
        type: 'number',
        required: false,
        options: undefined,
        description: undefined,
        default: 3,
      },
      { name: 'note', type: 'string', required: false, options: undefined, description: undefined },
    ]);
  });

  it('declares none for other triggers, or a workflow_dispatch without inputs', () => {
    for (const on of [
      'push',
      ['push', 'workflow_dispatch'],
      { push: { branches: ['main'] } },
      { workflow_dispatch: null },
    ])
      expect(declaredInputs(on)).toEqual({ inputs: [], problems: [] });
  });

  it("reads a reusable workflow's workflow_call inputs, after workflow_dispatch's of the same names", () => {
    const call = {
      inputs: { target: { type: 'string', default: 'staging' }, dry: { type: 'boolean', default: true } },
      secrets: { token: null },
      outputs: {},
    };
    expect(declaredInputs({ workflow_call: call })).toEqual({
      inputs: [
        {
          name: 'target',
          type: 'string',
          required: false,
          options: undefined,
          description: undefined,
          default: 'staging',
        },
        {
          name: 'dry',
          type: 'boolean',
          required: false,
          options: undefined,
          description: undefined,
          default: true,
        },
      ],
      problems: [],
    });
    // Required of a workflow only called; one also started by push has no caller then.
    const required = { inputs: { target: { type: 'string', required: true } } };
    expect(declaredInputs({ workflow_call: required }).inputs[0]?.required).toBe(true);
    expect(declaredInputs({ push: null, workflow_call: required }).inputs[0]?.required).toBe(false);
    const both = declaredInputs({
      workflow_dispatch: { inputs: { target: { default: 'qa' } } },
      workflow_call: call,
    });
    expect(both.inputs.map((input) => [input.name, input.default])).toEqual([
      ['target', 'qa'],
      ['dry', true],
    ]);
    expect(
      declaredInputs({ workflow_call: { inputs: { env: { type: 'environment' } }, with: 1 } }).problems,
    ).toEqual([
      {
        path: ['on', 'workflow_call', 'with'],
        message: 'unknown key "with" (known: inputs, outputs, secrets)',
      },
      {
        path: ['on', 'workflow_call', 'inputs', 'env', 'type'],
        message: 'input "env": type must be one of string, number, boolean, received "environment"',
      },
    ]);
  });

  it('says what is wrong with a declaration, and where', () => {
    const { problems } = declaredInputs(
      dispatch({
        kind: { type: 'choice' },
        flag: { type: 'boolean', default: 'maybe' },
        size: { type: 'integer' },
        pick: { type: 'choice', options: ['a', 'b'], default: 'c' },
        typo: { requird: true },
      }),
    );
    const at = (name: string, key?: string) => [
      'on',
      'workflow_dispatch',
      'inputs',
      name,
      ...(key ? [key] : []),
    ];
    expect(problems).toEqual([
      {
        path: at('kind', 'options'),
        message: 'input "kind": a choice input needs options, a non-empty list of values',
      },
      {
        path: at('flag', 'default'),
        message: 'input "flag": the default must be true or false, received "maybe"',
      },
      {
        path: at('size', 'type'),
        message:
          'input "size": type must be one of string, boolean, number, choice, environment, received "integer"',
      },
      { path: at('pick', 'default'), message: 'input "pick": the default must be one of a, b, received "c"' },
      {
        path: at('typo', 'requird'),
        message: 'unknown key "requird" in input "typo" (did you mean "required"?)',
      },
    ]);
  });
});

describe('untypedCallInputs', () => {
  it("names each workflow_call input without a type, which GitHub requires of a called workflow's", () => {
    const call = { inputs: { typed: { type: 'number' }, bare: { default: 'x' }, empty: null } };
    const message = (name: string) =>
      `input "${name}" of workflow_call needs a type: (string, number, boolean); GitHub requires one for a called workflow's inputs`;
    expect(untypedCallInputs(call)).toEqual([
      { path: ['on', 'workflow_call', 'inputs', 'bare'], message: message('bare') },
      { path: ['on', 'workflow_call', 'inputs', 'empty'], message: message('empty') },
    ]);
    expect(untypedCallInputs(null)).toEqual([]);
    expect(untypedCallInputs({ inputs: 'x' })).toEqual([]);
  });

  it('is an error where the input is, a warning in a stored run, and not asked of workflow_dispatch', () => {
    const jobs = 'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n';
    const text = `on:\n  workflow_dispatch:\n    inputs:\n      free: {}\n  workflow_call:\n    inputs:\n      target:\n        required: true\n${jobs}`;
    const message =
      'input "target" of workflow_call needs a type: (string, number, boolean); GitHub requires one for a called workflow\'s inputs';
    expect(parseWorkflow(text, 'ci.yml').diagnostics).toEqual([
      { severity: 'error', message, line: 7, col: 7 },
    ]);
    const stored = parseWorkflow(text, 'ci.yml', { stored: true });
    expect(stored.diagnostics).toEqual([{ severity: 'warning', message, line: 7, col: 7 }]);
    expect(stored.workflow?.inputs.find((input) => input.name === 'target')?.type).toBe('string');
  });
});

describe('resolveInputs', () => {
  const { inputs } = declaredInputs(
    dispatch({
      target: { type: 'choice', options: ['staging', 'production'], required: true },
      'dry-run': { type: 'boolean', default: true },
      retries: { type: 'number' },
      note: { default: 'none' },
      flag: { type: 'boolean' },
    }),
  );

  it('types the given values and fills in defaults, or empty values', () => {
    expect(resolveInputs(inputs, { target: 'production', 'dry-run': 'FALSE', retries: ' 5 ' })).toEqual({
      target: 'production',
      'dry-run': false,
      retries: 5,
      note: 'none',
      flag: false,
    });
    expect(resolveInputs(inputs, { target: 'staging', retries: 2, flag: true })).toMatchObject({
      retries: 2,
      flag: true,
    });
  });

  it('refuses an unknown input, a missing required one, and a value that does not fit its type', () => {
    expect(refusal(() => resolveInputs(inputs, { target: 'staging', tagret: 'x' }))).toBe(
      'unknown input "tagret"; the workflow declares target, dry-run, retries, note, flag',
    );
    expect(refusal(() => resolveInputs([], { x: '1' }))).toBe(
      'unknown input "x": the workflow declares no inputs (on.workflow_dispatch.inputs, on.workflow_call.inputs)',
    );
    expect(refusal(() => resolveInputs(inputs, {}))).toBe('input "target" is required');
    expect(refusal(() => resolveInputs(inputs, { target: 'prod' }))).toBe(
      'input "target" must be one of staging, production, received "prod"',
    );
    expect(refusal(() => resolveInputs(inputs, { target: 'staging', retries: 'many' }))).toBe(
      'input "retries" must be a number, received "many"',
    );
    expect(refusal(() => resolveInputs(inputs, { target: 'staging', flag: 'yes' }))).toBe(
      'input "flag" must be true or false, received "yes"',
    );
    expect(refusal(() => resolveInputs(inputs, { target: ['staging'] }))).toBe(
      'input "target" must be a string, number or boolean, received a list',
    );
  });

  it('gives github.event.inputs as strings', () => {
    expect(eventInputs({ a: true, b: 3, c: 'x' })).toEqual({ a: 'true', b: '3', c: 'x' });
  });
});

describe('parseWorkflow with inputs', () => {
  it('reports a bad declaration at its line, and no warning about the triggers', () => {
    const result = parseWorkflow(
      `name: x
on:
  push:
  workflow_dispatch:
    inputs:
      size: { type: integer }
jobs:
  a: { runs-on: ubuntu-latest, steps: [{ run: "true" }] }
`,
      'x.yml',
    );
    expect(result.diagnostics).toEqual([
      {
        severity: 'error',
        message:
          'input "size": type must be one of string, boolean, number, choice, environment, received "integer"',
        line: 6,
        col: 21,
      },
    ]);
  });

  it('gives the model the declared inputs, and no warning for workflow_dispatch alone', () => {
    const result = parseWorkflow(
      'name: x\non:\n  workflow_dispatch:\n    inputs:\n      who: { default: me }\njobs:\n  a: { runs-on: ubuntu-latest, steps: [{ run: "true" }] }\n',
      'x.yml',
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.workflow?.inputs.map((input) => [input.name, input.default])).toEqual([['who', 'me']]);
  });
});

describe('runInputs and inputlessEventNote: the inputs of a run by its event', () => {
  const { inputs } = declaredInputs({
    push: null,
    workflow_call: { inputs: { a: { type: 'string', default: 'x' }, b: { type: 'boolean' } } },
  });
  const more = declaredInputs(dispatch({ a: {}, b: {}, c: {}, d: { required: true } })).inputs;

  it('resolves them for workflow_dispatch and workflow_call, and gives another event none', () => {
    expect(runInputs(inputs, 'workflow_call', {})).toEqual({ a: 'x', b: false });
    expect(runInputs(more, 'push', {})).toEqual({});
    expect(refusal(() => runInputs(more, 'workflow_dispatch', {}))).toBe('input "d" is required');
    expect(refusal(() => runInputs([], 'local', { e: '1' }))).toContain('unknown input "e"');
  });

  it('notes the inputs an input-less event leaves empty, naming the event that gives them', () => {
    expect(inputlessEventNote(inputs, ['push', 'workflow_call'], 'push')).toBe(
      'the run starts as push, which has no inputs on GitHub: inputs.a and inputs.b are empty, not their defaults; --event workflow_call gives them',
    );
    expect(inputlessEventNote(more, ['schedule', 'workflow_dispatch'], 'schedule')).toBe(
      'the run starts as schedule, which has no inputs on GitHub: inputs.a, inputs.b, inputs.c and 1 more are empty, not their defaults; --event workflow_dispatch gives them',
    );
    expect(inputlessEventNote(more, ['push', 'workflow_dispatch'], 'workflow_dispatch')).toBeUndefined();
    expect(inputlessEventNote([], ['push'], 'push')).toBeUndefined();
  });
});
