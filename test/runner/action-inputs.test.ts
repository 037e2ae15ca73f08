import { describe, expect, it } from 'vitest';
import { resolveActionInputs } from '../../src/runner/action-inputs.js';
import { parseActionManifest } from '../../src/workflow/action-manifest.js';

describe("an action's input warnings", () => {
  it('name the inputs as written: with: keys as the step wrote them, a missing one as action.yml does', () => {
    const reading = parseActionManifest(
      [
        'inputs:',
        '  oldThing: { deprecationMessage: use newThing }',
        '  NeedMe: { required: true }',
        'runs: { using: composite, steps: [{ run: echo, shell: bash }] }',
        '',
      ].join('\n'),
    );
    if (!('manifest' in reading)) throw new Error(JSON.stringify(reading));
    const { values, warnings } = resolveActionInputs(
      reading.manifest,
      'dep/action.yml',
      { OldThing: '1', ExtraKey: '2' },
      (text) => text,
    );
    expect(warnings).toEqual([
      "warning: Unexpected input(s) 'ExtraKey', valid inputs are ['oldThing', 'NeedMe'] (dep/action.yml)",
      "dep/action.yml:2:3: warning: Input 'OldThing' has been deprecated with message: use newThing",
      'dep/action.yml:3:3: warning: input "NeedMe" is required and was not given (with: NeedMe: …)',
    ]);
    // The inputs context keeps its lower-cased names, as GitHub's does.
    expect(values).toEqual({ oldthing: '1', extrakey: '2', needme: '' });
  });
});
