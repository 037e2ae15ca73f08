import { readFile } from 'node:fs/promises';
import { type Document, isScalar, visit, YAMLParseError } from 'yaml';
import { ValkyrieError } from '../core/errors.js';
import { readFailureText } from '../core/read-failure.js';
import { buildWorkflow } from './build-model.js';
import { placeConcurrency } from './concurrency.js';
import { type Diagnostic, hasErrors } from './diagnostics.js';
import { narrowJobsDocument } from './job-selection.js';
import type { Workflow } from './model.js';
import { lexYaml } from './nesting.js';
import { quickLoad } from './quick-yaml.js';
import { workflowSchema } from './schema.js';
import { describeValue, schemaDiagnostics } from './schema-issues.js';
import { repairDocument } from './schema-repair.js';
import { SourceMap } from './source-map.js';
import { setAsideUnsupportedKeys } from './unsupported-keys.js';
import { type ValidateOptions, validateWorkflow } from './validate.js';
import { directoryCandidates, workflowPathInRepository } from './workflow-files.js';
import {
  aliasBombDiagnostic,
  mergeKeyErrors,
  stoppedDiagnostic,
  tagErrors,
  tooDeepDiagnostic,
  tooManyAliasesDiagnostic,
  unresolvedAliasDiagnostics,
  yamlDiagnostics,
} from './yaml-diagnostics.js';
import { type ParsedYaml, parseYaml } from './yaml-document.js';

export interface ParseResult {
  /** Present when there are no errors (warnings allowed). */
  readonly workflow?: Workflow;
  readonly diagnostics: readonly Diagnostic[];
  readonly source: string;
}

/** Parses and validates a workflow; every problem is reported, none is thrown. */
export function parseWorkflow(source: string, path: string, options: ValidateOptions = {}): ParseResult {
  const read = readYaml(source, options.stored === true);
  if ('diagnostics' in read) return { diagnostics: read.diagnostics, source };
  const { data: document, map } = read;
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    const received =
      document === null || document === undefined ? 'an empty document' : describeValue(document);
    const message = `a workflow must be a mapping with a "jobs" key, received ${received}`;
    return { diagnostics: [{ severity: 'error', message, line: 1, col: 1 }], source };
  }
  const narrowed = narrowedDocument(document as Record<string, unknown>, options.jobs);
  // GitHub keys Valkyrie does not support are reported as such, not as unknown keys of the schema.
  const setAside = setAsideUnsupportedKeys(narrowed, map);
  const data = setAside.data;
  // A workflow is parsed once per process: zod's generated fast path costs more to compile than it saves.
  const parsed = workflowSchema.safeParse(data, { jitless: true });
  if (!parsed.success) {
    const diagnostics = schemaDiagnostics(parsed.error.issues, data, map);
    const repaired = repairDocument(data, parsed.error.issues);
    if (repaired === undefined) return { diagnostics: [...setAside.diagnostics, ...diagnostics], source };
    // The semantic checks of what the schema accepted, so that one pass reports every mistake.
    const workflow = buildWorkflow(repaired.document, path, workflowPathInRepository(path));
    const spans = repaired.hidden.map((hidden) => map.lineSpan(hidden));
    const semantic = validateWorkflow(workflow, repaired.document, map, options).filter(
      (diagnostic) => !spans.some(({ first, last }) => diagnostic.line >= first && diagnostic.line <= last),
    );
    return { diagnostics: [...setAside.diagnostics, ...diagnostics, ...semantic], source };
  }

  const built = buildWorkflow(parsed.data, path, workflowPathInRepository(path));
  const workflow = { ...placeConcurrency(built, parsed.data, map), source };
  const diagnostics = [...setAside.diagnostics, ...validateWorkflow(workflow, parsed.data, map, options)];
  return hasErrors(diagnostics) ? { diagnostics, source } : { workflow, diagnostics, source };
}

type YamlReading =
  | { readonly data: unknown; readonly map: SourceMap }
  | { readonly diagnostics: Diagnostic[] };

/**
 * The file's data, and a source map to place diagnostics, or the YAML library's diagnostics. Most
 * files are read by the quick reader; the rest by the library, whose document the map then reuses.
 */
function readYaml(source: string, stored: boolean): YamlReading {
  const quick = quickLoad(source);
  if (quick !== undefined) return { data: quick.data, map: new SourceMap(source) };
  const lexed = lexYaml(source);
  if ('tooDeep' in lexed) return { diagnostics: [tooDeepDiagnostic(source, lexed.tooDeep)] };
  if ('tooManyAliases' in lexed)
    return { diagnostics: [tooManyAliasesDiagnostic(source, lexed.tooManyAliases)] };
  const parsed = parseYamlOnce(source, lexed.tokens, stored);
  const { document, lineCounter } = parsed;
  if (lexed.stoppedAt !== undefined) {
    const stopped = stoppedDiagnostic(lineCounter, lexed.stoppedAt);
    return { diagnostics: [...yamlDiagnostics(document, lineCounter), stopped] };
  }
  if (document.errors.length > 0) return { diagnostics: yamlDiagnostics(document, lineCounter) };
  try {
    // The library refuses a count that reaches its maxAliasCount: one more lets the limit itself in.
    return { data: document.toJS({ maxAliasCount: maxAliasCount + 1 }), map: new SourceMap(source, parsed) };
  } catch (error) {
    // The library's refusals here: an alias with no anchor before it, and aliases that expand too
    // far (an "alias bomb").
    if (!(error instanceof ReferenceError)) throw error;
    const unresolved = unresolvedAliasDiagnostics(document, lineCounter);
    if (unresolved.length > 0) return { diagnostics: unresolved };
    return { diagnostics: [aliasBombDiagnostic(document, lineCounter, maxAliasCount)] };
  }
}

/** How many times the document may use aliases (at most), nested ones counted as often as they expand. */
const maxAliasCount = 100;

/**
 * The YAML library checks that keys are unique by comparing each key with every earlier key of its
 * map: quadratic in the size of a map (1 MiB of distinct keys and one repeated took about 45 s),
 * and the largest single cost of parsing a workflow of 1,000 jobs. So keys are checked here, in
 * one pass per map, and reported as the library reports them: its error, at the repeated key, in
 * the order of the source. A file with other YAML errors is not checked (a repeated key there is
 * reported once they are fixed), as a file the library finds a repeated key in stops at it.
 */
function parseYamlOnce(source: string, tokens: readonly string[], stored: boolean): ParsedYaml {
  const parsed = parseYaml(source, { uniqueKeys: false }, tokens);
  refuseTags(parsed.document, source);
  if (parsed.document.errors.length > 0) return parsed;
  // Not in a stored run's text: an earlier Valkyrie admitted a `<<` key where any key may stand (a
  // matrix axis, an include entry's key), and its run must still resume, re-run or be taken over.
  const merges = stored ? [] : mergeKeyErrors(parsed.document);
  if (merges.length > 0) {
    for (const error of merges) parsed.document.errors.push(error);
    return parsed;
  }
  // Not push(...errors): a spread of 200,000 arguments overflows the stack.
  for (const error of repeatedKeyErrors(parsed.document)) parsed.document.errors.push(error);
  return parsed;
}

/**
 * A tag the library could not resolve is only a warning of its own, and the value is read as if
 * untagged — or emptied: `if: !cancelled()` unquoted became `if: ''`, and a cleanup step never ran.
 * GitHub refuses such a file; so does Valkyrie: each is an error, in source order with the others.
 */
function refuseTags(document: Document, source: string): void {
  const errors = tagErrors(document.warnings, source);
  if (errors.length === 0) return;
  document.warnings = document.warnings.filter((warning) => warning.code !== 'TAG_RESOLVE_FAILED');
  // Not push(...errors): a spread of 200,000 arguments overflows the stack.
  for (const error of errors) document.errors.push(error);
  document.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

/**
 * The library's DUPLICATE_KEY errors: a scalar key whose value an earlier key of its map has
 * (`===`, so a `.nan` key never repeats; other keys only repeat as the same node, which parsing
 * never produces).
 */
function repeatedKeyErrors(document: Document): YAMLParseError[] {
  const offsets: number[] = [];
  visit(document, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key) || Number.isNaN(key.value)) continue;
        if (seen.has(key.value)) offsets.push(key.range?.[0] ?? 0);
        else seen.add(key.value);
      }
    },
  });
  return offsets
    .sort((a, b) => a - b)
    .map((offset) => new YAMLParseError([offset, offset + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
}

export async function loadWorkflow(path: string, options: ValidateOptions = {}): Promise<ParseResult> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    const reason = readFailureText(error);
    const hint = (error as NodeJS.ErrnoException).code === 'EISDIR' ? `; ${directoryCandidates(path)}` : '';
    throw new ValkyrieError('VK_WORKFLOW_NOT_FOUND', `cannot read workflow ${path}: ${reason}${hint}`);
  }
  return parseWorkflow(source, path, options);
}

/** The document with only the jobs a run is narrowed to (ValidateOptions.jobs), or as it is. */
function narrowedDocument(
  document: Record<string, unknown>,
  ids: readonly string[] | undefined,
): Record<string, unknown> {
  if (ids === undefined || ids.length === 0) return document;
  const jobs = narrowJobsDocument(document.jobs, ids);
  return jobs === undefined ? document : { ...document, jobs };
}
