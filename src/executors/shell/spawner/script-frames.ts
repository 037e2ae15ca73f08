import { constants } from 'node:os';
import { isAbsolute, sep } from 'node:path';
import type { LaunchRequest, SpawnerMessage, SpawnerRequest } from './protocol.js';

/**
 * The byte framing between the engine and the script spawners, libexec/valkyrie-spawner.pl (which
 * documents it in full) and libexec/valkyrie-spawner.py: every frame is a 4-byte big-endian length
 * and that many bytes of body. Request bodies are NUL-joined fields (a spawn's first is its decimal
 * id; an adopt or forget request's is that word); reply bodies are a type byte, a 4-byte id and a
 * payload that depends on it.
 */

/**
 * True when `request` can travel in a frame as is. NUL separates the fields, and neither an
 * argument nor a variable can hold one: Node's spawn() rejects such requests, and so does an empty
 * command. The engine hands requests that fail this to spawn() itself, to fail with Node's own error.
 */
export function isFrameable(request: LaunchRequest): boolean {
  const { command, args, cwd, env } = request;
  if (command.length === 0 || command.includes('\0') || cwd.includes('\0')) return false;
  for (const arg of args) if (arg.includes('\0')) return false;
  for (const name in env) {
    if (name.includes('\0') || String(env[name]).includes('\0')) return false;
  }
  return true;
}

/** Encodes a batch of requests for one write to the spawner's stdin. */
export function encodeRequests(batch: readonly SpawnerRequest[]): Buffer {
  const bodies = batch.map(requestBody);
  let size = 0;
  for (const body of bodies) size += 4 + Buffer.byteLength(body);
  const frames = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const body of bodies) {
    const length = frames.write(body, offset + 4);
    frames.writeUInt32BE(length, offset);
    offset += 4 + length;
  }
  return frames;
}

function requestBody(request: SpawnerRequest): string {
  if (request.type !== 'spawn') return `${request.type}\0${request.pgid}`;
  const { id, command, args, cwd, env } = request;
  const fields = [String(id), command, engineRelative(cwd), String(args.length), ...args];
  // As Node's spawn() builds the environment: inherited keys included, undefined values skipped.
  for (const name in env) {
    const value = env[name];
    if (value !== undefined) fields.push(`${name}=${value}`);
  }
  return fields.join('\0');
}

/**
 * The working directory as spawn() would use it from this process: '' is this process's own, and
 * a relative one is relative to it. A script spawner's own directory is not this process's.
 * Joined, not normalised, so that `..` after a symbolic link means what chdir() makes of it.
 */
function engineRelative(cwd: string): string {
  if (cwd === '') return process.cwd();
  return isAbsolute(cwd) ? cwd : `${process.cwd()}${sep}${cwd}`;
}

const frameHeaderBytes = 4;
const replyHeaderBytes = 5;

/**
 * Splits the spawner's stdout into messages. Chunks end anywhere, mid-frame included; a frame
 * split over many chunks is joined once, when all of it has arrived.
 */
export class ReplyDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the first pending frame needs in all, once its length is known. */
  private needed = frameHeaderBytes;

  /** `at` stamps the output chunks: when they were read. Throws on a malformed frame. */
  push(chunk: Buffer, at: number): SpawnerMessage[] {
    let buffer = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needed) return [];
      buffer = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const messages: SpawnerMessage[] = [];
    let offset = 0;
    this.needed = frameHeaderBytes;
    while (buffer.length - offset >= frameHeaderBytes) {
      const end = offset + frameHeaderBytes + buffer.readUInt32BE(offset);
      if (end > buffer.length) {
        this.needed = end - offset;
        break;
      }
      messages.push(decodeReply(buffer, offset + frameHeaderBytes, end, at));
      offset = end;
    }
    if (offset < buffer.length) {
      this.pending.push(buffer.subarray(offset));
      this.pendingBytes = buffer.length - offset;
    }
    return messages;
  }
}

function decodeReply(buffer: Buffer, start: number, end: number, at: number): SpawnerMessage {
  if (end - start < replyHeaderBytes) throw new Error(`a reply of ${end - start} bytes is too short`);
  const type = buffer[start];
  const id = buffer.readUInt32BE(start + 1);
  const body = start + replyHeaderBytes;
  switch (type) {
    case 0x4f: // O
      return { type: 'output', id, stream: 'stdout', data: buffer.subarray(body, end), at };
    case 0x45: // E
      return { type: 'output', id, stream: 'stderr', data: buffer.subarray(body, end), at };
    case 0x53: // S
      return { type: 'spawned', id, pid: buffer.readUInt32BE(body) };
    case 0x58: // X
      return exitMessage(id, buffer.readInt32BE(body), buffer.readUInt8(body + 4));
    case 0x44: // D
      return { type: 'drained', id, groupGone: end > body && buffer[body] === 1 };
    case 0x46: {
      // F
      const text = buffer.toString('utf8', body, end);
      const separator = text.indexOf('\0');
      const code = text.slice(0, Math.max(separator, 0));
      return { type: 'failed', id, code: code === '' ? undefined : code, message: text.slice(separator + 1) };
    }
    case 0x52: // R
      return { type: 'ready' };
    default:
      throw new Error(`unknown reply type ${String(type)}`);
  }
}

/** Signal numbers to names; where two names share a number, the first Node lists. */
const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(constants.signals)) {
  if (!signalNames.has(number)) signalNames.set(number, name as NodeJS.Signals);
}

/**
 * As Node reports an exit: the code, or the signal's name. A signal Node has no name for (a
 * real-time one) Node reports as exit code 0, and so does this, to keep outcomes the same.
 */
function exitMessage(id: number, code: number, signal: number): SpawnerMessage {
  if (signal === 0) return { type: 'exit', id, code, signal: null };
  const name = signalNames.get(signal);
  return name === undefined
    ? { type: 'exit', id, code: 0, signal: null }
    : { type: 'exit', id, code: null, signal: name };
}
