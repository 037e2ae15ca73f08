import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  controlPlaneDecoder,
  decodeBatch,
  decodeFrame,
  decoderFor,
  encodeFrame,
  runnerDecoder,
} from '../../src/protocol/frame.js';
import {
  controlMessageSchema,
  controlMessageSchemas,
  runnerMessageSchemas,
} from '../../src/protocol/schemas.js';
import { controlSamples, runnerSamples, sampleJobSpec } from './samples.js';

describe('protocol schemas', () => {
  it('has a sample for every message type, so every type is round-tripped', () => {
    expect(Object.keys(controlSamples).sort()).toEqual(Object.keys(controlMessageSchemas).sort());
    expect(Object.keys(runnerSamples).sort()).toEqual(Object.keys(runnerMessageSchemas).sort());
  });

  it('decodes what it encodes, for every message of both directions', () => {
    for (const message of Object.values(runnerSamples)) {
      expect(decodeFrame(encodeFrame(message), controlPlaneDecoder)).toEqual({
        kind: 'decoded',
        value: message,
      });
    }
    for (const message of Object.values(controlSamples)) {
      expect(decodeFrame(encodeFrame(message), runnerDecoder)).toEqual({ kind: 'decoded', value: message });
    }
  });

  it('refuses a register whose runner name or label has a control character or is longer than registration takes', () => {
    const register = (runner: object) =>
      decodeFrame(
        encodeFrame({
          ...runnerSamples.register,
          runner: { name: 'r1', labels: ['linux'], capacity: 1, ...runner },
        }),
        controlPlaneDecoder,
      ).kind;
    expect(register({ name: 'build-01' })).toBe('decoded');
    expect(register({ name: 'a\nb' })).toBe('error');
    expect(register({ name: '\u001b[2Jx' })).toBe('error');
    expect(register({ name: 'x'.repeat(101) })).toBe('error');
    expect(register({ labels: ['gpu', 'a\u0001b'] })).toBe('error');
    expect(register({ labels: ['y'.repeat(201)] })).toBe('error');
    expect(register({ labels: [''] })).toBe('error');
  });

  it('names the field, what was wrong and the start of the frame for a schema violation', () => {
    const result = decodeFrame('{"v":1,"m":{"type":"accept","jobId":42}}', controlPlaneDecoder);
    expect(result.kind).toBe('error');
    if (result.kind !== 'error') return;
    expect(result.error.code).toBe('VK_PROTOCOL');
    expect(result.error.message).toMatch(/^m\.jobId: .*string.*; frame began "\{\\"v\\":1/);
  });

  it('takes a log line of a step or of the job itself (step -1), and refuses any other step index', () => {
    const entry = (stepIndex: number) => ({ stepIndex, stream: 'system', at: 1, text: 'x' });
    const frame = (stepIndex: number) =>
      encodeFrame({ type: 'log', jobId: 'job-1', fencingToken: 7, entries: [entry(stepIndex)] });
    expect(decodeFrame(frame(-1), controlPlaneDecoder)).toMatchObject({ kind: 'decoded' });
    expect(decodeFrame(frame(-2), controlPlaneDecoder)).toMatchObject({
      kind: 'error',
      error: { code: 'VK_PROTOCOL', message: expect.stringMatching(/^m\.entries\.0\.stepIndex: /) },
    });
  });

  it('refuses a control message where a runner message is expected (direction matters)', () => {
    const result = decodeFrame(encodeFrame(controlSamples.offer), controlPlaneDecoder);
    expect(result).toMatchObject({ kind: 'error', error: { code: 'VK_PROTOCOL' } });
  });

  it('tells an unknown protocol version apart from a malformed frame', () => {
    expect(decodeFrame('{"v":2,"m":{}}', runnerDecoder)).toMatchObject({
      kind: 'error',
      error: {
        code: 'VK_PROTOCOL_VERSION',
        message: expect.stringMatching(/version number 2; this end speaks version 1/),
      },
    });
    expect(decodeFrame('{"m":{}}', runnerDecoder)).toMatchObject({ error: { code: 'VK_PROTOCOL_VERSION' } });
    expect(decodeFrame('{"v":1,"m":', runnerDecoder)).toMatchObject({ error: { code: 'VK_PROTOCOL' } });
    expect(decodeFrame('[1]', runnerDecoder)).toMatchObject({ error: { code: 'VK_PROTOCOL' } });
  });

  it('checks the size before parsing, in bytes', () => {
    const frame = encodeFrame({ type: 'registered', runnerId: 'ééééééééééé' });
    // Fits the limit in characters, not in UTF-8 bytes.
    const decoder = decoderFor(controlMessageSchema, frame.length + 2);
    expect(decodeFrame(frame, decoder)).toMatchObject({ error: { code: 'VK_FRAME_TOO_LARGE' } });
    expect(decodeFrame(frame, decoderFor(controlMessageSchema, Buffer.byteLength(frame)))).toMatchObject({
      kind: 'decoded',
    });
  });

  it('rejects a batch whole when one message in it is invalid', () => {
    const body = JSON.stringify({ v: 1, seq: 1, messages: [runnerSamples.accept, { type: 'accept' }] });
    expect(decodeBatch(body, controlPlaneDecoder)).toMatchObject({
      kind: 'error',
      error: { code: 'VK_PROTOCOL', message: expect.stringMatching(/^messages\[1\]\.jobId/) },
    });
    expect(decodeBatch('{"v":1,"seq":-1,"messages":[]}', controlPlaneDecoder)).toMatchObject({
      kind: 'error',
    });
  });

  it('refuses a lease nested deeper than validation can follow, instead of throwing', () => {
    const lease = encodeFrame({ type: 'lease', jobId: 'j', fencingToken: 1, ttlMs: 1, job: sampleJobSpec });
    const depth = 200_000;
    const deep = lease.replace('"matrix":{"node":20}', `"matrix":${'['.repeat(depth)}${']'.repeat(depth)}`);
    expect(deep.length).toBeGreaterThan(2 * depth);
    const result = decodeFrame(deep, runnerDecoder);
    expect(result.kind).toBe('error');
    if (result.kind === 'error') expect(result.error.message).toMatch(/^m: nested too deeply to validate;/);
  });

  it('never throws and never returns a message for arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.uint8Array().map((bytes) => Buffer.from(bytes)),
        ),
        (raw) => {
          const result = decodeFrame(raw, controlPlaneDecoder);
          if (result.kind === 'decoded')
            expect(controlPlaneDecoder.schema.safeParse(result.value).success).toBe(true);
          else expect(result.error.code).toMatch(/^VK_/);
        },
      ),
      { numRuns: 500 },
    );
  });
});
