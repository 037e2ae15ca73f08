import { describe, expect, it } from 'vitest';
import {
  fitCapabilities,
  maxCapabilityGpus,
  maxCapabilityTextLength,
  maxCapabilityTools,
  maxToolTextLength,
} from '../../src/protocol/capability-bounds.js';
import { runnerCapabilitiesSchema } from '../../src/protocol/schemas.js';
import { sampleCapabilities } from './samples.js';

describe('fitCapabilities', () => {
  it('leaves a detection within the bounds as it is', () => {
    expect(fitCapabilities(sampleCapabilities)).toEqual(sampleCapabilities);
  });

  it('fits any detection into what the protocol takes: the first tools and GPUs, long text cut with …', () => {
    const long = (length: number) => `${'😀'.repeat(length)}`;
    const fitted = fitCapabilities({
      ...sampleCapabilities,
      os: long(300),
      arch: 'a'.repeat(1000),
      cpuModel: long(300),
      gpus: Array.from({ length: 100 }, (_, i) => ({ name: `${i}${long(300)}`, memoryMiB: i })),
      docker: { endpoint: `unix://${'d'.repeat(1000)}`, apiVersion: '1'.repeat(1000) },
      tools: Object.fromEntries(
        Array.from({ length: 150 }, (_, i) => [`${i}`.padEnd(200, 't'), `${i}.0-${'x'.repeat(200)}`]),
      ),
    });
    expect(runnerCapabilitiesSchema.safeParse(fitted).success).toBe(true);
    expect(Object.keys(fitted.tools)).toHaveLength(maxCapabilityTools);
    expect(fitted.tools[`0${'t'.repeat(maxToolTextLength - 2)}…`]).toBe(`0.0-${'x'.repeat(95)}…`);
    expect(fitted.gpus).toHaveLength(maxCapabilityGpus);
    expect(fitted.gpus[63]?.memoryMiB).toBe(63);
    // 255 code units would end in half an emoji: 254 of them (127 emoji) and the ….
    expect(fitted.cpuModel).toBe(`${long(127)}…`);
    expect(fitted.arch).toHaveLength(maxCapabilityTextLength);
    expect(fitted.docker?.apiVersion).toBe(`${'1'.repeat(255)}…`);
  });
});
