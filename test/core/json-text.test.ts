import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { valueJson } from '../../src/core/json-text.js';

// valueJson must be JSON.stringify, byte for byte: it writes job rows' matrices and outputs, and
// protocol messages (protocol/message-json.ts).

const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', 'ü', '😀'),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 8,
});
const key = fc.oneof(text, fc.constantFrom('leg', 'os', '0', '10', '__proto__', 'toJSON', 'fail-fast'));
/** What a flat record may hold, the values JSON leaves out or writes in its own ways among them. */
const plain = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(undefined, -0, 1e21, 5e-7, Number.NaN, Number.NEGATIVE_INFINITY, () => 1, Symbol('s')),
);
const nested = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(new Date(0), { toJSON: () => 'x' }, [1]),
);
const flat = fc.dictionary(key, plain, { maxKeys: 5 });

describe('valueJson', () => {
  it('is JSON.stringify of flat records, records with a nested or odd field, and any other value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          flat,
          fc.tuple(flat, key, nested).map(([record, name, value]) => ({ ...record, [name]: value })),
          plain,
          nested,
          fc.constantFrom(
            {},
            Object.create(null),
            Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
          ),
        ),
        (value) => {
          expect(valueJson(value)).toBe(JSON.stringify(value));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('writes a leg matrix and strategy as JSON.stringify does', () => {
    const strategy = { 'fail-fast': true, 'job-index': 3, 'job-total': 250, 'max-parallel': 250 };
    for (const value of [{ leg: 12 }, { os: 'lin"ux\u2028', node: 20.5 }, strategy, {}])
      expect(valueJson(value)).toBe(JSON.stringify(value));
  });
});
