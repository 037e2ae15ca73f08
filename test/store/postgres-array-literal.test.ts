import { expect, it } from 'vitest';
import { integerArrayLiteral, textArrayLiteral } from '../../src/store/postgres/array-literal.js';
import { describeOnPostgres, withRawClient } from './postgres-server.js';

const title = 'Postgres array literals';
const texts = [
  '',
  'NULL',
  'null',
  null,
  'a,b',
  '{x}',
  'q"uote',
  'back\\slash',
  '\\"',
  ' spaced ',
  'ünï ✓',
  'line\nbreak',
  'a',
  'a',
  null,
  null,
];
const integers = [0, -1, 9_007_199_254_740_991, '123456789012345678', null, 42];
const jsons = ['{"a":"b\\"c","d":[1,{"e":null}]}', null, '"text with \\\\ backslash"', '[]'];

describeOnPostgres(title, () => {
  it('reads back every value as given, telling null from the text NULL, through text[], bigint[] and json[]', async () => {
    const { rows } = await withRawClient((client) =>
      client.query<{ t: (string | null)[]; b: (string | null)[]; j: (string | null)[]; e: string[] }>(
        'SELECT $1::text[] AS t, $2::bigint[]::text[] AS b, $3::json[]::text[] AS j, $4::text[] AS e',
        [
          textArrayLiteral(texts),
          integerArrayLiteral(integers),
          textArrayLiteral(jsons),
          textArrayLiteral([]),
        ],
      ),
    );
    expect(rows[0]).toEqual({
      t: texts,
      b: integers.map((value) => (value === null ? null : String(value))),
      j: jsons,
      e: [],
    });
  });
});
