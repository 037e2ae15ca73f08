import fc from 'fast-check';
import { encodeBatch, runnerDecoder } from '../../src/protocol/frame.js';
import { runnerSamples } from './samples.js';

/**
 * Long-poll batch bodies a server must refuse: random text and JSON, a batch of random messages,
 * truncated valid batches, other protocol versions — `count` of them — and one past the frame limit.
 */
export function malformedBatchBodies(count: number): string[] {
  const valid = encodeBatch(1, [runnerSamples.accept]);
  return [
    ...fc.sample(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.json().map((json) => `{"v":1,"seq":1,"messages":[${json}]}`),
        fc.nat(valid.length - 1).map((cut) => valid.slice(0, cut)),
        fc
          .integer()
          .filter((v) => v !== 1)
          .map((v) => `{"v":${v},"seq":1,"messages":[]}`),
      ),
      count,
    ),
    'x'.repeat(runnerDecoder.maxFrameBytes + 1),
  ];
}
