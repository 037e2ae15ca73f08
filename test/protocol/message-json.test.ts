import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import { JsonTemplate, jobJson, messageJson } from '../../src/protocol/message-json.js';
import { controlSamples, sampleJobSpec } from './samples.js';

// messageJson must be JSON.stringify, byte for byte, whatever is in the message: the wire format of
// a lease does not change when it carries its spec's JSON from a template.

/** Strings with what JSON must escape: quotes, backslashes, control characters, lone surrogates. */
const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', 'ü', '😀'),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 8,
});
const key = fc.oneof(text, fc.constantFrom('type', 'job', 'contexts', '0', '10', '__proto__', 'toJSON'));
/** Values JSON handles in its own ways: left out, null, or through toJSON. */
const oddValue = fc.constantFrom(
  undefined,
  () => 1,
  Symbol('s'),
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -0,
  1e21,
  5e-7,
  new Date(0),
  { toJSON: () => 'custom' },
  [undefined, () => 1],
);
const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), text, oddValue);
const record = fc.dictionary(key, anything, { maxKeys: 4 });

/** A spec with every field, any of them replaced or left out, extra fields, in some field order. */
const spec = fc
  .record({
    ...Object.fromEntries(Object.entries(sampleJobSpec).map(([name, value]) => [name, fc.constant(value)])),
    jobId: text,
    name: text,
    timeoutMs: fc.oneof(fc.nat(), fc.double()),
    defaults: fc.oneof(fc.constant({ shell: 'bash', workingDirectory: undefined }), record),
    contexts: fc.oneof(
      fc.record({
        github: anything,
        vars: record,
        secrets: record,
        matrix: anything,
        strategy: record,
        needs: record,
        inputs: anything,
      }),
      anything,
    ),
  })
  .chain((base) =>
    fc.tuple(record, fc.shuffledSubarray(Object.keys(base))).map(([extra, order]) => {
      const reordered: Record<string, unknown> = {};
      for (const name of order) reordered[name] = (base as Record<string, unknown>)[name];
      return { ...reordered, ...extra };
    }),
  );

/** Names a template may vary: top-level fields of the spec, and `matrix` inside its contexts. */
const varied = fc.subarray(['jobId', 'name', 'timeoutMs', 'attempt', 'steps', 'matrix', 'new'], {
  minLength: 1,
});

/** A template over a random spec, as the planner makes one per job, and values for some of its legs. */
const templated = fc
  .tuple(
    spec,
    varied,
    fc.array(
      fc.dictionary(
        fc.constantFrom('jobId', 'name', 'timeoutMs', 'attempt', 'steps', 'matrix', 'new'),
        anything,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([base, names, legs]) => {
    const template = new JsonTemplate<Record<string, unknown>, Record<string, unknown>>((values) => {
      const made: Record<string, unknown> = { ...base };
      for (const name of names) {
        if (name === 'matrix') {
          const contexts = typeof base.contexts === 'object' && base.contexts !== null ? base.contexts : {};
          made.contexts = { ...contexts, matrix: values.matrix };
        } else made[name] = values[name];
      }
      return made;
    }, names);
    return legs.map((leg) => template.fill(Object.fromEntries(names.map((name) => [name, leg[name]]))));
  });

/** A lease with the spec and the JSON a template made, as the control plane sends it. */
const withJson = (message: Record<string, unknown>, made: { value: object; json: string | undefined }) => ({
  ...message,
  job: made.value,
  [jobJson]: made.json,
});

const lease = (job: fc.Arbitrary<unknown>) =>
  fc
    .record({
      type: fc.constant('lease'),
      jobId: text,
      fencingToken: fc.oneof(fc.nat(), anything),
      ttlMs: fc.nat(),
      job,
      jobToken: fc.oneof(text, fc.constant(undefined)),
    })
    .chain((message) => fc.tuple(fc.constant(message), record).map(([m, extra]) => ({ ...m, ...extra })))
    .map((message) => ({ ...message, type: 'lease' }));

describe('messageJson', () => {
  it('is JSON.stringify of any lease whose spec a template made', () => {
    fc.assert(
      fc.property(
        templated.chain((specs) =>
          fc.tuple(...specs.map((made) => lease(fc.constant(made.value)).map((m) => withJson(m, made)))),
        ),
        (messages) => {
          for (const message of messages) expect(messageJson(message)).toBe(JSON.stringify(message));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('is JSON.stringify of any other lease, message and value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          lease(fc.oneof(spec, anything)),
          anything,
          record,
          fc.constantFrom(...Object.values(controlSamples)),
        ),
        (value) => {
          expect(messageJson(value)).toBe(JSON.stringify(value));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('falls back to encoding the whole when make does not place a value as it is, once', () => {
    const misuses: ((values: { name: string }) => object)[] = [
      ({ name }) => ({ ...sampleJobSpec, name: `${name}!` }),
      ({ name }) => ({ ...sampleJobSpec, name, key: name }),
      () => ({ ...sampleJobSpec }),
      ({ name }) => ({ ...sampleJobSpec, name: name.length }),
    ];
    for (const make of misuses) {
      const template = new JsonTemplate(make, ['name']);
      for (const [index, name] of ['a', 'b"c', 'é\n'].entries()) {
        const made = template.fill({ name });
        // The first JSON is the made object's own, without the probe; the probe fails for the others.
        expect(made.json).toBe(index === 0 ? JSON.stringify(made.value) : undefined);
        const message = withJson(controlSamples.lease, made);
        expect(messageJson(message)).toBe(JSON.stringify(message));
      }
    }
  });

  it('splices in the JSON the lease carries, not the JSON of its spec', () => {
    const template = new JsonTemplate(
      ({ jobId }: { jobId: string }) => ({ ...sampleJobSpec, jobId }),
      ['jobId'],
    );
    const made = template.fill({ jobId: 'job-9' });
    expect(made.json).toBe(JSON.stringify(made.value));
    // A sender that paired a spec with another's JSON would send that JSON: it is used as it is.
    const message = withJson(controlSamples.lease, { value: made.value, json: '{"other":1}' });
    expect(messageJson(message)).toContain('"job":{"other":1}');
  });

  it('frames leases of a matrix job that the runner decodes as the same leases', () => {
    const template = new JsonTemplate(
      ({ jobId, matrix }: { jobId: string; matrix: { leg: number; os: string } }) => ({
        ...sampleJobSpec,
        jobId,
        contexts: { ...sampleJobSpec.contexts, matrix },
      }),
      ['jobId', 'matrix'],
    );
    for (let leg = 0; leg < 3; leg++) {
      const made = template.fill({ jobId: `job-${leg}`, matrix: { leg, os: 'lin"ux\u2028' } });
      expect(made.json).toBeDefined();
      const lease = {
        type: 'lease' as const,
        jobId: `job-${leg}`,
        fencingToken: leg + 1,
        ttlMs: 30_000,
        job: made.value,
      };
      const frame = encodeFrame({ ...lease, [jobJson]: made.json });
      expect(frame).toBe(`{"v":1,"m":${JSON.stringify(lease)}}`);
      expect(decodeFrame(frame, runnerDecoder)).toEqual({ kind: 'decoded', value: lease });
    }
  });

  it('throws on a value JSON cannot encode, as JSON.stringify does', () => {
    const template = new JsonTemplate(
      ({ jobId }: { jobId: unknown }) => ({ ...sampleJobSpec, jobId }),
      ['jobId'],
    );
    const made = template.fill({ jobId: 1n });
    expect(made.json).toBeUndefined();
    const message = { ...withJson(controlSamples.lease, made), fencingToken: 2n };
    expect(() => JSON.stringify(message)).toThrow(TypeError);
    expect(() => messageJson(message)).toThrow(TypeError);
  });

  it('builds no JSON until a lease is encoded, then the same as JSON.stringify, with no probe for the first', () => {
    // Local mode's in-process transport never encodes a lease: the template's probe must not run there.
    // Nor for a job of one leg (most jobs): the first JSON is its spec's own.
    let made = 0;
    const template = new JsonTemplate(
      ({ jobId }: { jobId: string }) => {
        made++;
        return { ...sampleJobSpec, jobId };
      },
      ['jobId'],
    );
    expect(made).toBe(0);
    const leg = template.fillLazily({ jobId: 'job-1' });
    expect(made).toBe(1);
    const lease = { ...controlSamples.lease, job: leg.value };
    const carried = { ...lease, [jobJson]: leg.json };
    expect(made).toBe(1);
    expect(messageJson(carried)).toBe(JSON.stringify(lease));
    expect(made).toBe(1);
    // A second leg's JSON makes the probe (a call of make), and is spliced from it.
    const second = template.fillLazily({ jobId: 'job-2' });
    expect(made).toBe(2);
    const secondLease = { ...controlSamples.lease, job: second.value };
    const secondCarried = { ...secondLease, [jobJson]: second.json };
    expect(encodeFrame(secondCarried)).toBe(`{"v":1,"m":${JSON.stringify(secondLease)}}`);
    expect(made).toBe(3);
    expect(encodeFrame(carried)).toBe(`{"v":1,"m":${JSON.stringify(lease)}}`);
    expect(made).toBe(3);
  });
});
