import * as z from 'zod';
import { versionHeader } from '../handshake.js';
import { protocolVersion } from '../messages.js';
import { controlMessageSchema, runnerMessageSchema } from '../schemas.js';

/**
 * The long-poll transport's routes under its base path, and the methods each takes: what the
 * acceptor answers (any other method is 405 with these in Allow), and what the server's OpenAPI
 * document lists for it (server/runner-protocol-operations.ts).
 */
export const longPollRoutes = {
  sessions: { path: '/sessions', methods: ['POST'] },
  session: { path: '/sessions/:id', methods: ['DELETE'] },
  messages: { path: '/sessions/:id/messages', methods: ['GET', 'POST'] },
} as const;

export type LongPollRoute = keyof typeof longPollRoutes;

/**
 * The bodies of the long-poll routes as JSON Schema can say them, for the OpenAPI document. The
 * acceptor writes and reads them by hand (frame.ts, session.ts: a batch is checked message by
 * message, its answer joined from JSON already encoded), so these are its description, checked
 * against its real answers by the OpenAPI conformance test; the messages inside are the protocol's
 * own schemas (schemas.ts), the ones each end validates with.
 */
const version = z.literal(protocolVersion);
const seq = z.number().int().nonnegative();

export const versionHeaders = z.object({
  [versionHeader]: z
    .literal(String(protocolVersion))
    .optional()
    .describe('the protocol version the client speaks; absent means 1'),
});

export const sessionOpenedSchema = z.object({
  v: version,
  sessionId: z.string().describe('128 random bits: the capability for the later requests'),
  holdMs: z.number().int().positive().describe('how long a poll is held waiting for news'),
});

export const runnerBatchSchema = z.object({
  v: version,
  seq: seq.describe('the sequence number of the first message; message i has seq + i'),
  messages: z.array(runnerMessageSchema),
});

export const batchAckSchema = z.object({
  v: version,
  ack: seq.describe('the highest sequence number received'),
});

export const polledBatchSchema = z.object({
  v: version,
  seq: seq.describe('the sequence number of the first message; message i has seq + i'),
  messages: z.array(controlMessageSchema),
  closed: z
    .object({ code: z.string(), reason: z.string() })
    .optional()
    .describe('the session ended: sent with the last of its messages'),
});

export const pollQuerySchema = z.object({
  ack: seq.optional().describe('the highest sequence number the client has received (default 0)'),
});

export const sessionEndQuerySchema = z.object({
  reason: z.string().optional().describe('why the client closes it (default "closed by the client")'),
});
