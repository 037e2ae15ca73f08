import { isRecord } from '../core/is-record.js';
import type { Diagnostic } from './diagnostics.js';
import { formatNumber } from './expressions/values.js';
import { isDockerUses, isLocalActionUses } from './local-action.js';
import { type Position, SourceMap, type YamlPath } from './source-map.js';
import { idPattern } from './validate.js';
import { yamlDiagnostics } from './yaml-diagnostics.js';
import { parseYaml } from './yaml-document.js';

/**
 * An action's metadata file (`action.yml`), as GitHub's "Metadata syntax for GitHub Actions" defines
 * it, for the two kinds Valkyrie runs: composite actions and JavaScript (`node*`) actions. Docker
 * actions are refused: the runner starts no containers for a step.
 */
export interface ActionManifest {
  readonly name: string;
  /** Names lower-cased: GitHub matches `with:` keys and `inputs.<name>` case-insensitively. */
  readonly inputs: readonly ActionInput[];
  /** Output name → its `value` template (composite); a JavaScript action's are descriptive only. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly runs: ActionRuns;
}

export interface ActionInput {
  /** Lower-cased, for matching: GitHub matches inputs ignoring case. */
  readonly name: string;
  /** As action.yml spells it: what GitHub shows when it lists the action's inputs. */
  readonly writtenName: string;
  /** A template, evaluated when the step starts, as GitHub evaluates `${{ github.token }}` defaults. */
  readonly default?: string;
  readonly required: boolean;
  /** `deprecationMessage:`: GitHub warns with it when a step gives the input. */
  readonly deprecationMessage?: string;
  readonly at: Position;
}

export type ActionRuns =
  | { readonly kind: 'composite'; readonly steps: readonly CompositeStepDefinition[] }
  | {
      readonly kind: 'node';
      readonly using: string;
      /** Relative to the action's directory. */
      readonly main: string;
      /** `runs.pre`: run before the job's first step (job-run's action phases). */
      readonly pre?: ActionPhaseScript;
      /** `runs.post`: run after the job's last step, for a step whose main part ran. */
      readonly post?: ActionPhaseScript;
    };

/** A JavaScript action's `pre:` or `post:` script, and its `pre-if:`/`post-if:`. */
export interface ActionPhaseScript {
  /** Relative to the action's directory. */
  readonly script: string;
  /** The condition, `always()` when not given (GitHub's default). */
  readonly if: string;
  readonly at: Position;
}

export interface CompositeStepDefinition {
  readonly id?: string;
  readonly name: string;
  readonly run?: string;
  readonly shell?: string;
  /** A nested local action (`./path`, relative to the workspace, as on GitHub). */
  readonly uses?: string;
  readonly with: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly if?: string;
  readonly workingDirectory?: string;
  readonly continueOnError: boolean | string;
  readonly at: Position;
}

export type ManifestReading =
  | { readonly manifest: ActionManifest; readonly warnings: readonly Diagnostic[] }
  | { readonly diagnostics: readonly Diagnostic[] };

const stepKeys = [
  'id',
  'name',
  'run',
  'shell',
  'uses',
  'with',
  'env',
  'if',
  'working-directory',
  'continue-on-error',
];

/** Parses and checks an action.yml; every problem found is reported with its line and column. */
export function parseActionManifest(source: string): ManifestReading {
  const parsed = parseYaml(source, { uniqueKeys: true });
  if (parsed.document.errors.length > 0)
    return { diagnostics: yamlDiagnostics(parsed.document, parsed.lineCounter) };
  const map = new SourceMap(source, parsed);
  const data: unknown = parsed.document.toJS({ maxAliasCount: 100 });
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const error = (message: string, path: YamlPath, key = false) =>
    errors.push({ severity: 'error', message, ...map.position(path, { key }) });
  if (!isRecord(data)) {
    error('an action.yml must be a mapping with a "runs" key', []);
    return { diagnostics: errors };
  }
  const inputs = readInputs(data.inputs, map, error);
  const runs = readRuns(data.runs, map, error);
  const outputs = readOutputs(data.outputs, runs?.kind === 'composite', error);
  if (errors.length > 0 || runs === undefined)
    return { diagnostics: errors.sort((a, b) => a.line - b.line || a.col - b.col) };
  const name = typeof data.name === 'string' ? data.name : '';
  return { manifest: { name, inputs, outputs, runs }, warnings };
}

type Report = (message: string, path: YamlPath, key?: boolean) => void;

function readInputs(value: unknown, map: SourceMap, error: Report): ActionInput[] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) {
    error('inputs must be a mapping of input names', ['inputs']);
    return [];
  }
  const inputs: ActionInput[] = [];
  for (const [name, spec] of Object.entries(value)) {
    const at = map.position(['inputs', name], { key: true });
    if (spec !== null && !isRecord(spec)) {
      error(`input "${name}" must be a mapping (description, required, default)`, ['inputs', name]);
      continue;
    }
    const fields = spec ?? {};
    const required = fields.required;
    if (required !== undefined && typeof required !== 'boolean' && !/^(true|false)$/i.test(String(required)))
      error(`inputs.${name}.required must be true or false`, ['inputs', name, 'required']);
    const fallback = fields.default;
    if (fallback !== undefined && fallback !== null && isComposite(fallback))
      error(`inputs.${name}.default must be a string, number or boolean`, ['inputs', name, 'default']);
    const deprecation = fields.deprecationMessage;
    if (isComposite(deprecation))
      error(`inputs.${name}.deprecationMessage must be a string`, ['inputs', name, 'deprecationMessage']);
    inputs.push({
      name: name.toLowerCase(),
      writtenName: name,
      required: String(required).toLowerCase() === 'true',
      at,
      ...(fallback === undefined || fallback === null ? {} : { default: literalText(fallback) }),
      ...(deprecation === undefined || deprecation === null || isComposite(deprecation)
        ? {}
        : { deprecationMessage: String(deprecation) }),
    });
  }
  return inputs;
}

function readOutputs(value: unknown, composite: boolean, error: Report): Record<string, string> {
  const outputs: Record<string, string> = {};
  if (value === undefined || value === null) return outputs;
  if (!isRecord(value)) {
    error('outputs must be a mapping of output names', ['outputs']);
    return outputs;
  }
  for (const [name, spec] of Object.entries(value)) {
    const template = isRecord(spec) ? spec.value : undefined;
    if (composite && (template === undefined || template === null || isComposite(template))) {
      error(
        `output "${name}" of a composite action needs a value: (e.g. \${{ steps.<id>.outputs.<name> }})`,
        ['outputs', name],
        true,
      );
      continue;
    }
    outputs[name] = template === undefined || template === null ? '' : literalText(template);
  }
  return outputs;
}

function readRuns(value: unknown, map: SourceMap, error: Report): ActionRuns | undefined {
  if (value === undefined) {
    error('an action.yml must have a "runs" key (runs.using: composite, or node20 with runs.main)', []);
    return undefined;
  }
  if (!isRecord(value)) {
    error('runs must be a mapping with "using"', ['runs']);
    return undefined;
  }
  const written = value.using;
  if (typeof written !== 'string') {
    error(
      'runs.using is missing: use composite, or node20 (node16, node24, …) with runs.main',
      ['runs'],
      true,
    );
    return undefined;
  }
  // GitHub's runner compares runs.using ignoring case: `Composite` and `Node20` are actions it runs.
  const using = written.toLowerCase();
  if (using === 'docker') {
    error(
      'runs.using: docker is not supported: Valkyrie runs no containers for actions; use a composite action that runs docker in a run: step',
      ['runs', 'using'],
    );
    return undefined;
  }
  if (/^node\d+$/.test(using)) {
    if (typeof value.main !== 'string' || value.main.trim() === '') {
      error(`runs.main (the script to run) is required with runs.using: ${using}`, ['runs'], true);
      return undefined;
    }
    const pre = readPhase(value, 'pre', map, error);
    const post = readPhase(value, 'post', map, error);
    return {
      kind: 'node',
      using,
      main: value.main,
      ...(pre === undefined ? {} : { pre }),
      ...(post === undefined ? {} : { post }),
    };
  }
  if (using !== 'composite') {
    error(`unknown runs.using "${written}": use composite, or node20 (node16, node24, …) with runs.main`, [
      'runs',
      'using',
    ]);
    return undefined;
  }
  if (!Array.isArray(value.steps) || value.steps.length === 0) {
    error('a composite action needs runs.steps, a list of steps', ['runs'], true);
    return undefined;
  }
  const steps = value.steps.map((step, index) => readStep(step, ['runs', 'steps', index], map, error));
  return { kind: 'composite', steps };
}

function readPhase(
  runs: Record<string, unknown>,
  key: 'pre' | 'post',
  map: SourceMap,
  error: Report,
): ActionPhaseScript | undefined {
  const script = runs[key];
  const condition = runs[`${key}-if`];
  if (condition !== undefined && condition !== null && isComposite(condition))
    error(`runs.${key}-if must be a condition (a string)`, ['runs', `${key}-if`]);
  if (script === undefined || script === null) return undefined;
  if (typeof script !== 'string' || script.trim() === '') {
    error(`runs.${key} must be the path of a script, relative to the action's directory`, ['runs', key]);
    return undefined;
  }
  return {
    script,
    if:
      condition === undefined || condition === null || isComposite(condition)
        ? 'always()'
        : String(condition),
    at: map.position(['runs', key], { key: true }),
  };
}

function readStep(raw: unknown, path: YamlPath, map: SourceMap, error: Report): CompositeStepDefinition {
  const at = map.position(path);
  const step = isRecord(raw) ? raw : {};
  if (!isRecord(raw)) error('a step must be a mapping (run: and shell:, or uses:)', path);
  for (const key of Object.keys(step)) {
    if (!stepKeys.includes(key))
      error(
        `"${key}" is not a key of a composite action\u2019s step (${stepKeys.join(', ')})`,
        [...path, key],
        true,
      );
  }
  const text = (key: string): string | undefined => {
    const value = step[key];
    if (value === undefined || value === null) return undefined;
    if (isComposite(value)) error(`${key} must be a string`, [...path, key]);
    return literalText(value);
  };
  const run = text('run');
  const uses = text('uses');
  const shell = text('shell');
  const id = text('id');
  if (run === undefined && uses === undefined) error('a step needs run: (with shell:) or uses:', path);
  if (run !== undefined && uses !== undefined)
    error('a step has either run: or uses:, not both', [...path, 'uses']);
  if (run !== undefined && shell === undefined)
    error(
      'shell: is required for a run: step of a composite action (bash, sh, pwsh, python, …)',
      [...path, 'run'],
      true,
    );
  if (uses !== undefined && !isLocalActionUses(uses))
    error(
      isDockerUses(uses)
        ? `"${uses}": Docker container actions are not supported`
        : `"${uses}": only local actions (uses: ./path) can be used here; actions from other repositories are not supported yet`,
      [...path, 'uses'],
    );
  if (id !== undefined && !idPattern.test(id))
    error(`step id "${id}" must start with a letter or _ and contain only letters, digits, - and _`, [
      ...path,
      'id',
    ]);
  const name =
    text('name') ?? (uses !== undefined ? `Run ${uses}` : `Run ${(run ?? '').trim().split('\n')[0] ?? ''}`);
  const condition = step.if;
  const continueOnError = step['continue-on-error'];
  return {
    name,
    with: stringMap(step.with, [...path, 'with'], error),
    env: stringMap(step.env, [...path, 'env'], error),
    continueOnError:
      typeof continueOnError === 'boolean'
        ? continueOnError
        : continueOnError === undefined
          ? false
          : String(continueOnError),
    at,
    ...(id === undefined ? {} : { id }),
    ...(run === undefined ? {} : { run }),
    ...(shell === undefined ? {} : { shell }),
    ...(uses === undefined ? {} : { uses }),
    ...(condition === undefined || condition === null ? {} : { if: String(condition) }),
    ...(step['working-directory'] === undefined
      ? {}
      : { workingDirectory: literalText(step['working-directory']) }),
  };
}

function stringMap(value: unknown, path: YamlPath, error: Report): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    error(`${String(path[path.length - 1])} must be a mapping`, path);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (isComposite(item)) error(`${key} must be a string, number or boolean`, [...path, key]);
    out[key] = item === null ? '' : literalText(item);
  }
  return out;
}

/**
 * A literal where text is expected, as the runner's template reader writes it: a number as .NET's
 * G15 (`123456789012345678` is `1.23456789012346E+17`), not as JavaScript prints it.
 */
function literalText(value: unknown): string {
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

function isComposite(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}
