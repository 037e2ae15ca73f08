import { type LoadOptions, load, Schema, Type } from 'js-yaml';
import { maxNestingDepth } from './nesting.js';
import { isSimpleYaml } from './simple-yaml.js';

/**
 * A fast reading of the plain documents that nearly every workflow is, for large files: the `yaml`
 * library, which the parser needs for its diagnostics and its source positions, runs cold in a
 * one-shot CLI and spends about 300 ms on a file of 1,000 jobs; js-yaml reads the same file in
 * about 50. The data must be exactly what `yaml` would make of the file (YAML 1.2, core schema),
 * so this reads only files in the subset where the two agree (simple-yaml.ts: no anchors, tags,
 * directives, or quoted scalars and flow collections over several lines, among others) and that
 * js-yaml finds valid, with no repeated key. It returns undefined for everything else, which is
 * left to `yaml`, as is a file nested deeper than the limit, for the diagnostic that reports it.
 * test/workflow/quick-yaml.test.ts compares the two on a corpus and on random documents.
 */
export function quickLoad(source: string): { readonly data: unknown } | undefined {
  if (!isSimpleYaml(source)) return undefined;
  try {
    // An empty document is null to `yaml`, undefined to js-yaml.
    return { data: load(source, loadOptions) ?? null };
  } catch {
    return undefined;
  }
}

/** The core schema's plain scalars as `yaml` resolves them (its schema/core/*.js). */
function scalar(tag: string, test: RegExp, construct: (text: string) => unknown): Type {
  return new Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (text: unknown) => typeof text === 'string' && test.test(text),
    construct: (text: string) => construct(text),
  });
}

const coreSchema = new Schema({
  implicit: [
    scalar('null', /^(?:~|[Nn]ull|NULL)?$/, () => null),
    scalar('bool', /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (text) => text[0] === 't' || text[0] === 'T'),
    scalar('int', /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/, (text) => {
      if (text.startsWith('0o')) return Number.parseInt(text.slice(2), 8);
      if (text.startsWith('0x')) return Number.parseInt(text.slice(2), 16);
      return Number.parseInt(text, 10);
    }),
    scalar(
      'float',
      /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/,
      (text) => {
        const end = text.slice(-3).toLowerCase();
        if (end === 'nan') return Number.NaN;
        if (end === 'inf') return text[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
        return Number.parseFloat(text);
      },
    ),
  ],
});

/** js-yaml's maxDepth (its types lack it): a file past it is left to `yaml`, to report. */
const loadOptions: LoadOptions & { readonly maxDepth: number } = {
  schema: coreSchema,
  maxDepth: maxNestingDepth,
};
