import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import {
  jobSchema,
  runDefaultsSchema,
  stepSchema,
  strategySchema,
  workflowJsonSchema,
  workflowSchema,
} from '../../src/workflow/schema.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follows a path of property names through the JSON Schema, failing the test when one is missing. */
function at(schema: JsonObject, ...path: string[]): JsonObject {
  let node: unknown = schema;
  for (const segment of path) {
    node = isObject(node) ? node[segment] : undefined;
    if (!isObject(node)) throw new Error(`no object at ${path.join('.')} (stopped at ${segment})`);
  }
  return node as JsonObject;
}

const jsonTypes = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Every subschema, with where it sits, for checks that hold everywhere. */
function* subschemas(node: unknown, where = '#'): Generator<[string, JsonObject]> {
  if (!isObject(node)) return;
  yield [where, node];
  for (const key of ['properties', '$defs']) {
    const children = node[key];
    if (isObject(children)) {
      for (const [name, child] of Object.entries(children))
        yield* subschemas(child, `${where}/${key}/${name}`);
    }
  }
  for (const key of ['items', 'additionalProperties', 'propertyNames']) {
    yield* subschemas(node[key], `${where}/${key}`);
  }
  const anyOf = node.anyOf;
  if (Array.isArray(anyOf)) {
    for (const [i, child] of anyOf.entries()) yield* subschemas(child, `${where}/anyOf/${i}`);
  }
}

describe('workflowJsonSchema', () => {
  const schema = workflowJsonSchema();

  it('is a draft 2020-12 object schema that requires jobs and rejects unknown top-level keys', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['jobs'],
      additionalProperties: false,
    });
    expect(at(schema, 'properties', 'jobs')).toMatchObject({ type: 'object' });
  });

  it('uses only JSON Schema types, and requires only properties it declares', () => {
    for (const [where, node] of subschemas(schema)) {
      const types = node.type === undefined ? [] : [node.type].flat();
      for (const type of types) expect(jsonTypes.has(String(type)), `${where} type ${type}`).toBe(true);
      if (node.required !== undefined) {
        const declared = Object.keys(at(node, 'properties'));
        expect(declared, `${where} required`).toEqual(expect.arrayContaining(node.required as string[]));
      }
      if (node.additionalProperties !== undefined) {
        expect(typeof node.additionalProperties === 'boolean' || isObject(node.additionalProperties)).toBe(
          true,
        );
      }
    }
  });

  it('has the zod schema keys at the top level, in jobs, steps, strategy and defaults', () => {
    const job = at(schema, 'properties', 'jobs', 'additionalProperties');
    const keys = (node: JsonObject) => Object.keys(at(node, 'properties'));

    expect(keys(schema)).toEqual(Object.keys(workflowSchema.shape));
    expect(keys(job)).toEqual(Object.keys(jobSchema.shape));
    expect(keys(at(job, 'properties', 'steps', 'items'))).toEqual(Object.keys(stepSchema.shape));
    expect(keys(at(job, 'properties', 'strategy'))).toEqual(Object.keys(strategySchema.shape));
    expect(keys(at(schema, 'properties', 'defaults'))).toEqual(Object.keys(runDefaultsSchema.shape));
  });

  it('types a name, a shell or a directory as the text, number or boolean the parser takes as text', () => {
    const job = at(schema, 'properties', 'jobs', 'additionalProperties');
    const step = at(job, 'properties', 'steps', 'items');
    const textType = { type: ['string', 'number', 'boolean'] };
    expect(at(schema, 'properties', 'name')).toEqual(textType);
    expect(at(schema, 'properties', 'run-name')).toEqual(textType);
    expect(at(job, 'properties', 'name')).toEqual(textType);
    expect(at(step, 'properties', 'working-directory')).toEqual(textType);
    expect(at(step, 'properties', 'shell')).toMatchObject(textType);
    expect(at(schema, 'properties', 'defaults', 'properties', 'run', 'properties', 'shell')).toMatchObject(
      textType,
    );
  });

  it('matches, as JSON Schema reads a pattern (no flags), the flags and numbers the parser takes in any case', () => {
    const job = at(schema, 'properties', 'jobs', 'additionalProperties');
    const step = at(job, 'properties', 'steps', 'items');
    const textPattern = (node: JsonObject) => {
      const pattern = (node.anyOf as JsonObject[])[1]?.pattern;
      if (typeof pattern !== 'string') throw new Error('no pattern for the text form');
      // JSON Schema patterns are ECMA-262 with Unicode and no other flag, as ajv compiles them.
      return new RegExp(pattern, 'u');
    };
    const cases: ['job' | 'step', string, string][] = [
      ['job', 'continue-on-error', '"True"'],
      ['step', 'continue-on-error', '" FALSE "'],
      ['job', 'timeout-minutes', '"1E1"'],
      ['step', 'timeout-minutes', '"2.5E+1"'],
    ];
    for (const [level, key, written] of cases) {
      const node = at(level === 'job' ? job : step, 'properties', key);
      const source =
        level === 'job'
          ? `jobs:\n  a:\n    runs-on: x\n    ${key}: ${written}\n    steps: [{ run: "true" }]\n`
          : `jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true", ${key}: ${written} }]\n`;
      const { diagnostics } = parseWorkflow(source, 'ci.yml', { runnerLabels: ['x'] });
      expect(diagnostics, `${key}: ${written}`).toEqual([]);
      expect(textPattern(node).test(JSON.parse(written)), `${key}: ${written}`).toBe(true);
    }
    const strategy = at(job, 'properties', 'strategy');
    expect(textPattern(at(strategy, 'properties', 'fail-fast')).test('False')).toBe(true);
    expect(textPattern(at(strategy, 'properties', 'max-parallel')).test('2E0')).toBe(true);
    expect(textPattern(at(strategy, 'properties', 'fail-fast')).test('maybe')).toBe(false);
  });

  it('closes jobs, steps and strategy to unknown keys and requires runs-on and steps', () => {
    const job = at(schema, 'properties', 'jobs', 'additionalProperties');
    expect(job).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['runs-on', 'steps'],
    });
    expect(at(job, 'properties', 'steps')).toMatchObject({ type: 'array', minItems: 1 });
    expect(at(job, 'properties', 'steps', 'items')).toMatchObject({ additionalProperties: false });
    expect(at(job, 'properties', 'strategy')).toMatchObject({ additionalProperties: false });
  });

  it('lists for on: the events and settings the validator accepts, and no others', () => {
    const on = at(schema, 'properties', 'on');
    const [name, list, mapping] = on.anyOf as JsonObject[];
    const events = name?.enum as string[];
    expect(events).toContain('push');
    expect(events).not.toContain('pushh');
    expect(list).toMatchObject({ type: 'array', items: { enum: events } });
    expect(Object.keys(at(mapping ?? {}, 'properties'))).toEqual(events);
    expect(mapping).toMatchObject({ additionalProperties: false });
    const jobs = 'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n';
    for (const event of events) {
      const { diagnostics } = parseWorkflow(`on: ${event}\n${jobs}`, 'ci.yml');
      expect(diagnostics, event).toEqual([]);
    }
    const push = at(mapping ?? {}, 'properties', 'push').anyOf as JsonObject[];
    const pushKeys = Object.keys(at(push[1] ?? {}, 'properties'));
    expect(pushKeys).toEqual(['branches', 'branches-ignore', 'tags', 'tags-ignore', 'paths', 'paths-ignore']);
    const filters = pushKeys.map((key) => `    ${key}: x`).join('\n');
    expect(
      parseWorkflow(`on:\n  push:\n${filters.replace(/.*-ignore: x\n?/g, '')}\n${jobs}`, 'ci.yml')
        .diagnostics,
    ).toEqual([]);
  });

  it("gives each event's types the activity types the validator takes, and repository_dispatch's a list of any names", () => {
    const mapping = (at(schema, 'properties', 'on').anyOf as JsonObject[])[2] ?? {};
    const typesOf = (event: string) => {
      const settings = (at(mapping, 'properties', event).anyOf as JsonObject[])[1] ?? {};
      return at(settings, 'properties', 'types');
    };
    const pullRequest = typesOf('pull_request').anyOf as JsonObject[];
    const allowed = pullRequest[0]?.enum as string[];
    expect(allowed).toContain('synchronize');
    expect(allowed).not.toContain('openned');
    expect(pullRequest[1]).toEqual({ type: 'array', items: { type: 'string', enum: allowed } });
    const jobs = 'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n';
    const withTypes = Object.keys(at(mapping, 'properties')).filter((event) => {
      const settings = at(mapping, 'properties', event).anyOf;
      const properties =
        Array.isArray(settings) && isObject(settings[1]) ? settings[1].properties : undefined;
      return isObject(properties) && isObject(properties.types);
    });
    expect(withTypes).toContain('repository_dispatch');
    // A list of any names, and only a list, as GitHub's schema and the validator take it.
    expect(typesOf('repository_dispatch')).toEqual({
      type: 'array',
      items: { type: 'string', minLength: 1 },
    });
    for (const event of withTypes.filter((name) => name !== 'repository_dispatch')) {
      const [one] = typesOf(event).anyOf as JsonObject[];
      const types = one?.enum as string[];
      expect(types.length, event).toBeGreaterThan(0);
      const { diagnostics } = parseWorkflow(
        `on:\n  ${event}:\n    types: [${types.join(', ')}]\n${jobs}`,
        'ci.yml',
      );
      expect(diagnostics, event).toEqual([]);
      const wrong = parseWorkflow(`on:\n  ${event}:\n    types: nope\n${jobs}`, 'ci.yml').diagnostics;
      expect(
        wrong.map((d) => d.severity),
        event,
      ).toEqual(['error']);
    }
  });
  it('closes workflow_dispatch and workflow_call, and their inputs, to the keys, types and names the validator takes', () => {
    const mapping = (at(schema, 'properties', 'on').anyOf as JsonObject[])[2] ?? {};
    const settingsOf = (event: string) => (at(mapping, 'properties', event).anyOf as JsonObject[])[1] ?? {};
    const jobs = 'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n';
    const errorsOf = (on: string) =>
      parseWorkflow(`on:\n${on}\n${jobs}`, 'ci.yml', { runnerLabels: ['x'] }).diagnostics.filter(
        (d) => d.severity === 'error',
      );
    for (const [event, keys, types] of [
      ['workflow_dispatch', ['inputs'], ['string', 'boolean', 'number', 'choice', 'environment']],
      ['workflow_call', ['inputs', 'outputs', 'secrets'], ['string', 'number', 'boolean']],
    ] as const) {
      const settings = settingsOf(event);
      expect(settings, event).toMatchObject({ type: 'object', additionalProperties: false });
      expect(Object.keys(at(settings, 'properties')), event).toEqual(keys);
      expect(errorsOf(`  ${event}:\n    input: {}`).length, `${event}.input`).toBe(1);
      const inputs = at(settings, 'properties', 'inputs');
      const names = new RegExp(String(at(inputs, 'propertyNames').pattern), 'u');
      expect(names.test('dry-run_2'), event).toBe(true);
      expect(names.test('2fast'), event).toBe(false);
      expect(errorsOf(`  ${event}:\n    inputs:\n      2fast: { type: string }`).length, event).toBe(1);
      const fields = at(inputs, 'additionalProperties');
      const input = event === 'workflow_call' ? fields : ((fields.anyOf as JsonObject[])[1] ?? {});
      expect(input, event).toMatchObject({ type: 'object', additionalProperties: false });
      expect(Object.keys(at(input, 'properties'))).not.toContain('defualt');
      const unknownKey = `  ${event}:\n    inputs:\n      x: { type: string, defualt: a }`;
      expect(errorsOf(unknownKey).map((d) => d.message)).toEqual([
        'unknown key "defualt" in input "x" (did you mean "default"?)',
      ]);
      expect(at(input, 'properties', 'type').enum, event).toEqual(types);
      for (const type of types) {
        const options = type === 'choice' ? ', options: [a]' : '';
        expect(errorsOf(`  ${event}:\n    inputs:\n      x: { type: ${type}${options} }`), type).toEqual([]);
      }
      expect(errorsOf(`  ${event}:\n    inputs:\n      x: { type: strin }`).length, event).toBe(1);
    }
  });
  it('describes the contexts a concurrency group may use, and the shells, as the validator takes them', () => {
    const job = at(schema, 'properties', 'jobs', 'additionalProperties');
    const contextsIn = (node: JsonObject) =>
      [...String(node.description).matchAll(/\$\{\{ (\w+) \}\}/g)].map((match) => match[1] ?? '');
    const errorsOf = (source: string) =>
      parseWorkflow(source, 'ci.yml', { runnerLabels: ['x'] }).diagnostics.filter(
        (d) => d.severity === 'error',
      );
    const workflowGroup = (context: string) =>
      `concurrency: g-\${{ ${context}.a }}\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n`;
    const jobGroup = (context: string) =>
      `jobs:\n  a:\n    runs-on: x\n    concurrency: g-\${{ ${context}.a }}\n    steps: [{ run: "true" }]\n`;
    const all = ['github', 'inputs', 'vars', 'needs', 'strategy', 'matrix', 'env', 'secrets', 'steps'];
    for (const [groupAt, node, source] of [
      ['workflow', at(schema, 'properties', 'concurrency'), workflowGroup],
      ['job', at(job, 'properties', 'concurrency'), jobGroup],
    ] as const) {
      expect(String(node.description), groupAt).toContain(`one ${groupAt === 'workflow' ? 'run' : 'job'} of`);
      const described = contextsIn((node.anyOf as JsonObject[])[0] ?? {});
      expect(described.length, groupAt).toBeGreaterThan(0);
      for (const context of all) {
        const refused = errorsOf(source(context)).length > 0;
        expect(refused, `${groupAt} group with ${context}`).toBe(!described.includes(context));
      }
    }
    const step = at(job, 'properties', 'steps', 'items');
    const shells =
      String(at(step, 'properties', 'shell').description)
        .split(', or ')[0]
        ?.split(', ') ?? [];
    expect(shells).toContain('pwsh');
    for (const shell of [...shells, 'fish']) {
      const source = `jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true", shell: ${shell} }]\n`;
      expect(errorsOf(source).length, shell).toBe(shell === 'fish' ? 1 : 0);
    }
  });
});
