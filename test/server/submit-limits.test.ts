import { describe, expect, it } from 'vitest';
import { maxNestingDepth } from '../../src/workflow/nesting.js';
import { oneJobWorkflow, startTestServer } from './helpers.js';

const json = { 'content-type': 'application/json' };

/** `{"a":{"a":…}}` as JSON text, `depth` objects deep, written out by hand (JSON.stringify recurses). */
function deepObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('submitting hostile workflows', () => {
  it('answers a workflow of 50,000 nested brackets with 400 and stays up', async () => {
    const { request, token } = await startTestServer();
    const submit = await token('submit');
    const raw = JSON.stringify({ workflow: `a: ${'['.repeat(50_000)}` });
    const response = await request('POST', '/api/v1/runs', { token: submit, raw, headers: json });
    expect(response).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_WORKFLOW',
        message: `workflow.yml:1:${4 + maxNestingDepth - 1}: YAML: collections nest deeper than ${maxNestingDepth} levels here; a workflow needs far fewer`,
        path: 'body.workflow',
      },
    });
    expect((await request('GET', '/healthz')).status).toBe(200);
    const fine = await request('POST', '/api/v1/runs', { token: submit, body: { workflow: oneJobWorkflow } });
    expect(fine.status).toBe(201);
  });

  it('answers a workflow object nested too deep with 400 and where, before writing it out', async () => {
    const { request } = await startTestServer();
    for (const depth of [maxNestingDepth + 1, 300_000]) {
      const raw = `{"workflow":${deepObject(depth)}}`;
      const response = await request('POST', '/api/v1/runs', { raw, headers: json });
      expect(response).toMatchObject({
        status: 400,
        body: {
          code: 'VK_INVALID_WORKFLOW',
          message: `body.workflow${'.a'.repeat(maxNestingDepth)}: the workflow nests deeper than ${maxNestingDepth} levels here; a workflow needs far fewer`,
          path: `body.workflow${'.a'.repeat(maxNestingDepth)}`,
        },
      });
    }
    const deepest = await request('POST', '/api/v1/runs', {
      raw: `{"workflow":${deepObject(maxNestingDepth)}}`,
      headers: json,
    });
    expect(deepest.body).toMatchObject({ code: 'VK_INVALID_WORKFLOW', path: 'body.workflow' });
    expect((deepest.body as { message: string }).message).toMatch(/"jobs"/);
  });

  it('answers an alias bomb with 400 and a diagnostic, not 500', async () => {
    const errors: unknown[] = [];
    const { request } = await startTestServer({ logError: (error) => errors.push(error) });
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [name, previous] of [...'bcdefghi'].map((c, i) => [c, 'abcdefghi'[i]])) {
      levels.push(`${name}: &${name} [${`*${previous},`.repeat(8)}*${previous}]`);
    }
    const workflow = `${levels.join('\n')}\njobs: *i\n`;
    const response = await request('POST', '/api/v1/runs', { body: { workflow } });
    expect(response).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_WORKFLOW',
        message:
          "workflow.yml:2:8: YAML: the aliases expand to more than 100 copies of their anchors' values; write the values out instead",
        path: 'body.workflow',
      },
    });
    expect(errors).toEqual([]);
  });
});

describe('submit validation messages', () => {
  it('says what the workflow field received when it is neither text nor an object, or is missing', async () => {
    const { request } = await startTestServer();
    for (const [workflow, received] of [
      [5, 'the number 5'],
      [true, 'the boolean true'],
      [['jobs'], 'an array'],
      [null, 'null'],
      ['', 'an empty string'],
      [undefined, 'nothing (the key is required)'],
    ] as const) {
      const response = await request('POST', '/api/v1/runs', {
        body: workflow === undefined ? {} : { workflow },
      });
      expect(response, String(workflow)).toMatchObject({
        status: 400,
        body: {
          code: 'VK_INVALID_REQUEST',
          message: `body.workflow: expected the workflow as YAML text or as a JSON object, received ${received}`,
          path: 'body.workflow',
        },
      });
    }
  });

  it('says a body of null is null, not undefined', async () => {
    const { request } = await startTestServer();
    const response = await request('POST', '/api/v1/runs', { raw: 'null', headers: json });
    expect(response).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        message: 'body: expected an object, received null',
        path: 'body',
      },
    });
  });

  it('names a __proto__ key and where it is, instead of calling valid JSON invalid', async () => {
    const { request } = await startTestServer();
    const raw = '{"workflow":{"jobs":{"a":{"__proto__":{"x":1}}}}}';
    const response = await request('POST', '/api/v1/runs', { raw, headers: json });
    expect(response).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        message:
          'body.workflow.jobs.a.__proto__: a key named "__proto__" is not accepted (it would set an object\'s prototype)',
        path: 'body.workflow.jobs.a.__proto__',
      },
    });
    const prototypeKey = '{"vars":{"constructor":{"prototype":{}}},"workflow":"x"}';
    const second = await request('POST', '/api/v1/runs', { raw: prototypeKey, headers: json });
    expect(second.body).toMatchObject({ path: 'body.vars.constructor.prototype' });
    const invalid = await request('POST', '/api/v1/runs', { raw: '{"workflow":', headers: json });
    expect(invalid.body).toMatchObject({ code: 'VK_INVALID_JSON', path: 'body' });
    expect((invalid.body as { message: string }).message).toMatch(/^the body is not valid JSON: /);
  });
});
