import type * as z from 'zod';
import { messageOf } from '../core/error-message.js';
import type { ErrorCode } from '../core/errors.js';
import { plainIssues } from '../core/plain-issue-text.js';
import { checkControlMessage, checkRunnerMessage } from './message-checks.js';
import { messageJson } from './message-json.js';
import type { ControlMessage, RunnerMessage } from './messages.js';
import { protocolVersion } from './messages.js';
import { controlMessageSchema, runnerMessageSchema } from './schemas.js';

/**
 * Frames on the wire. Every frame is one JSON object that carries the protocol version `v`:
 * - a single message (WebSocket text frame): `{"v":1,"m":MESSAGE}`
 * - several messages (a WebSocket text frame, between ends that agreed on it at the upgrade):
 *   `{"v":1,"messages":[MESSAGE…]}`
 * - a batch (HTTP long-poll bodies): `{"v":1,"seq":FIRST,"messages":[MESSAGE…]}` where message i
 *   has sequence number FIRST+i.
 * Decoding checks, in order: size, JSON syntax, version, envelope shape, then each message's schema.
 * The first failure is the result; nothing partially decoded is ever returned.
 */

export type ProtocolErrorCode = Extract<
  ErrorCode,
  'VK_PROTOCOL' | 'VK_PROTOCOL_VERSION' | 'VK_FRAME_TOO_LARGE'
>;

export interface ProtocolError {
  readonly code: ProtocolErrorCode;
  readonly message: string;
}

export type Decoded<T> =
  | { readonly kind: 'decoded'; readonly value: T }
  | { readonly kind: 'error'; readonly error: ProtocolError };

export interface Batch<T> {
  readonly seq: number;
  readonly messages: readonly T[];
}

/** 1 MiB: a lease with a large job spec fits; log chunks are capped at 64 KiB by their sender. */
export const defaultMaxFrameBytes = 1024 * 1024;

/** How one end decodes what it receives; the other direction is plain JSON with the envelope. */
export interface MessageDecoder<In> {
  readonly schema: z.ZodType<In>;
  readonly maxFrameBytes: number;
  /**
   * A faster equivalent of `schema` for some messages (see message-checks.ts): the message when the
   * schema would accept it as it is, undefined when `schema` is to decide.
   */
  readonly check?: (value: unknown) => In | undefined;
}

export function decoderFor<In>(
  schema: z.ZodType<In>,
  maxFrameBytes = defaultMaxFrameBytes,
  check?: (value: unknown) => In | undefined,
): MessageDecoder<In> {
  return check === undefined ? { schema, maxFrameBytes } : { schema, maxFrameBytes, check };
}

/** The control plane's end decodes runner messages; the runner's end decodes control messages. */
export const controlPlaneDecoder: MessageDecoder<RunnerMessage> = decoderFor(
  runnerMessageSchema,
  defaultMaxFrameBytes,
  checkRunnerMessage,
);
export const runnerDecoder: MessageDecoder<ControlMessage> = decoderFor(
  controlMessageSchema,
  defaultMaxFrameBytes,
  checkControlMessage,
);

export function encodeFrame(message: unknown): string {
  return `{"v":${protocolVersion},"m":${messageJson(message)}}`;
}

const messagesFramePrefix = `{"v":${protocolVersion},"messages":[`;

/**
 * One WebSocket frame of `messagesJson`, messages already in JSON (the sender encodes each as it is
 * sent): a single-message frame for one, a frame of several only between ends that agreed on them.
 */
export function encodeMessages(messagesJson: readonly string[]): string {
  if (messagesJson.length === 1) return `{"v":${protocolVersion},"m":${messagesJson[0]}}`;
  // One join over the envelope and the messages builds the frame flat: the messages' join wrapped in
  // the envelope was a rope, which the socket's Buffer.byteLength then copied flat once more.
  const parts = [messagesFramePrefix];
  for (const json of messagesJson) parts.push(json, ',');
  if (messagesJson.length > 0) parts.pop();
  parts.push(']}');
  return parts.join('');
}

export function encodeBatch(
  seq: number,
  messages: readonly unknown[],
  extra?: Record<string, unknown>,
): string {
  return JSON.stringify({ v: protocolVersion, seq, messages, ...extra });
}

export function decodeFrame<In>(raw: Buffer | string, decoder: MessageDecoder<In>): Decoded<In> {
  const parsed = parseEnvelope(raw, decoder.maxFrameBytes);
  if (parsed.kind === 'error') return parsed;
  const envelope = parsed.value;
  if (!('m' in envelope)) return invalid('the frame has no "m" (message) field', raw);
  return validate(envelope.m, decoder, 'm', raw);
}

/**
 * Decodes a WebSocket frame of one message or, with `several`, also of several: every message is
 * checked, and one invalid message refuses the frame whole.
 */
export function decodeMessages<In>(
  raw: Buffer | string,
  decoder: MessageDecoder<In>,
  several: boolean,
): Decoded<readonly In[]> {
  const parsed = parseEnvelope(raw, decoder.maxFrameBytes);
  if (parsed.kind === 'error') return parsed;
  const envelope = parsed.value;
  if ('m' in envelope) {
    const one = validate(envelope.m, decoder, 'm', raw);
    return one.kind === 'error' ? one : { kind: 'decoded', value: [one.value] };
  }
  if (!several) return invalid('the frame has no "m" (message) field', raw);
  if (!('messages' in envelope)) return invalid('the frame has neither "m" nor "messages"', raw);
  const { messages } = envelope;
  if (!Array.isArray(messages))
    return invalid(`"messages" must be an array, received ${describe(messages)}`, raw);
  const decoded: In[] = [];
  for (let index = 0; index < messages.length; index++) {
    const result = validate(messages[index], decoder, `messages[${index}]`, raw);
    if (result.kind === 'error') return result;
    decoded.push(result.value);
  }
  return { kind: 'decoded', value: decoded };
}

/** Decodes a batch body; `extraFields` are returned unvalidated for the caller to check. */
export function decodeBatch<In>(
  raw: Buffer | string,
  decoder: MessageDecoder<In>,
): Decoded<Batch<In> & { readonly envelope: Readonly<Record<string, unknown>> }> {
  const parsed = parseEnvelope(raw, decoder.maxFrameBytes);
  if (parsed.kind === 'error') return parsed;
  const envelope = parsed.value;
  const { seq, messages } = envelope;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    return invalid(`"seq" must be a non-negative integer, received ${describe(seq)}`, raw);
  if (!Array.isArray(messages))
    return invalid(`"messages" must be an array, received ${describe(messages)}`, raw);
  const decoded: In[] = [];
  for (const [index, message] of messages.entries()) {
    const result = validate(message, decoder, `messages[${index}]`, raw);
    if (result.kind === 'error') return result;
    decoded.push(result.value);
  }
  return { kind: 'decoded', value: { seq, messages: decoded, envelope } };
}

function parseEnvelope(raw: Buffer | string, maxFrameBytes: number): Decoded<Record<string, unknown>> {
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > maxFrameBytes) {
    return {
      kind: 'error',
      error: {
        code: 'VK_FRAME_TOO_LARGE',
        message: `frame of ${bytes} bytes exceeds the limit of ${maxFrameBytes} bytes`,
      },
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (error) {
    const reason = messageOf(error);
    return invalid(`frame is not valid JSON (${reason})`, raw);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid(`frame must be a JSON object, received ${describe(value)}`, raw);
  const envelope = value as Record<string, unknown>;
  if (envelope.v !== protocolVersion) {
    return {
      kind: 'error',
      error: {
        code: 'VK_PROTOCOL_VERSION',
        message: `frame has protocol version ${describe(envelope.v)}; this end speaks version ${protocolVersion}`,
      },
    };
  }
  return { kind: 'decoded', value: envelope };
}

function validate<In>(
  value: unknown,
  decoder: MessageDecoder<In>,
  at: string,
  raw: Buffer | string,
): Decoded<In> {
  const checked = decoder.check?.(value);
  if (checked !== undefined) return { kind: 'decoded', value: checked };
  let result: z.ZodSafeParseResult<In>;
  try {
    result = decoder.schema.safeParse(value, plainIssues);
  } catch (error) {
    // JSON.parse takes nesting thousands deep that validating recursively cannot: a refusal, not a crash.
    if (error instanceof RangeError) return invalid(`${at}: nested too deeply to validate`, raw);
    throw error;
  }
  if (result.success) return { kind: 'decoded', value: result.data };
  const issue = result.error.issues[0];
  const path = [at, ...(issue?.path ?? []).map(String)].join('.');
  return invalid(`${path}: ${issue?.message ?? 'invalid'}`, raw);
}

function invalid(what: string, raw: Buffer | string): { kind: 'error'; error: ProtocolError } {
  return { kind: 'error', error: { code: 'VK_PROTOCOL', message: `${what}; frame began ${preview(raw)}` } };
}

function preview(raw: Buffer | string): string {
  const text = typeof raw === 'string' ? raw.slice(0, 60) : raw.subarray(0, 60).toString('utf8');
  return JSON.stringify(text);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
