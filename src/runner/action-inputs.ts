import type { ActionManifest } from '../workflow/action-manifest.js';

export interface ResolvedInputs {
  /** Input name (lower-cased, as GitHub keeps them) → value: the `inputs` context of the action. */
  readonly values: Readonly<Record<string, string>>;
  /** Lines for the step's log, as GitHub warns rather than fails. */
  readonly warnings: readonly string[];
}

/**
 * An action's inputs as GitHub resolves them: each `with:` value (evaluated), else the input's
 * `default:` (evaluated when the step starts), else the empty string. Like GitHub, a `with:` key the
 * action does not declare is only a warning (`Unexpected input(s) …`) and is still passed; a
 * `required: true` input that is neither given nor defaulted is only a warning too ("Actions using
 * required: true will not automatically return an error if the input is not specified"). A given input that has a
 * `deprecationMessage` is warned about with it, in GitHub's words.
 */
export function resolveActionInputs(
  manifest: ActionManifest,
  file: string,
  given: Readonly<Record<string, string>>,
  evaluateDefault: (template: string) => string,
): ResolvedInputs {
  const values: Record<string, string> = {};
  // Lower-cased name → as the step's `with:` wrote it, for the warnings: GitHub's keys are matched
  // ignoring case, but a warning names what the user wrote (`Unexpected input(s) 'ExtraKey'`).
  const written = new Map<string, string>();
  for (const [key, value] of Object.entries(given)) {
    values[key.toLowerCase()] = value;
    written.set(key.toLowerCase(), key);
  }
  // Lower-cased name → as action.yml spells it (`entryPoint`), which is how GitHub lists the valid
  // inputs; a name declared twice in different cases is listed once.
  const declared = new Map<string, string>();
  for (const input of manifest.inputs)
    if (!declared.has(input.name)) declared.set(input.name, input.writtenName);
  const warnings: string[] = [];
  const unexpected = Object.keys(values).filter((key) => !declared.has(key));
  if (unexpected.length > 0) {
    const valid = [...declared.values()].map((name) => `'${name}'`).join(', ');
    warnings.push(
      `warning: Unexpected input(s) ${unexpected.map((key) => `'${written.get(key) ?? key}'`).join(', ')}, valid inputs are [${valid}] (${file})`,
    );
  }
  for (const input of manifest.inputs) {
    if (Object.hasOwn(values, input.name)) {
      if (input.deprecationMessage !== undefined)
        warnings.push(
          `${file}:${input.at.line}:${input.at.col}: warning: Input '${written.get(input.name) ?? input.writtenName}' has been deprecated with message: ${input.deprecationMessage}`,
        );
      continue;
    }
    if (input.default !== undefined) {
      values[input.name] = evaluateDefault(input.default);
      continue;
    }
    // GitHub's runner gives a declared input without a default the empty string: it is in the
    // `inputs` context (toJSON(inputs) lists it) and a JavaScript action gets INPUT_<NAME> set, empty.
    values[input.name] = '';
    if (input.required)
      warnings.push(
        `${file}:${input.at.line}:${input.at.col}: warning: input "${input.writtenName}" is required and was not given (with: ${input.writtenName}: …)`,
      );
  }
  return { values, warnings };
}

/** `INPUT_<NAME>` for a JavaScript action: upper-cased, spaces as `_` (GitHub's rule). */
export function inputVariables(values: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values))
    out[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  return out;
}
