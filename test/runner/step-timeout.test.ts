import { describe, expect, it } from 'vitest';
import { stepTimeoutMs } from '../../src/runner/step-timeout.js';
import type { StepDefinition } from '../../src/workflow/model.js';

describe('stepTimeoutMs', () => {
  const step: StepDefinition = {
    index: 0,
    run: 'true',
    name: 'build',
    env: {},
    continueOnError: false,
    timeoutMinutes: '${{ vars.s }}',
  };
  const context = (s: string) => ({ contexts: { vars: { s } } });

  it("names what a step's timeout-minutes expression evaluated to when it is not a positive number", () => {
    expect(() => stepTimeoutMs(step, context('xyz'))).toThrow(
      'timeout-minutes must be a positive number of minutes, received "xyz" (from ${{ vars.s }})',
    );
    expect(() => stepTimeoutMs({ ...step, timeoutMinutes: -1 }, context(''))).toThrow('received -1');
    expect(stepTimeoutMs(step, context('0.5'))).toBe(30_000);
  });
});
