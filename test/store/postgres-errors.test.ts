import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connectError, isConnectionLoss, toStoreError } from '../../src/store/postgres/errors.js';

/** What Node's net module throws for a refused connection. */
function refused(port: number): Error {
  return Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '127.0.0.1',
    port,
  });
}

function databaseError(code: string, message: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

describe('toStoreError: the connection lost after open', () => {
  // What to do is its reader's to say: `valkyrie run` names the run to resume, while a server, which
  // logs this for every poll that fails during an outage, retries by itself.
  it('is VK_STORE_UNREACHABLE with the text of a refused connect, and no advice meant for one reader', () => {
    const error = toStoreError('append log lines', refused(15432));
    expect(error.code).toBe('VK_STORE_UNREACHABLE');
    expect(error.message).toBe(
      'could not append log lines: could not connect to Postgres at 127.0.0.1:15432: connection refused ' +
        '(is the server running and listening there?)',
    );
    expect(error.cause).toBeInstanceOf(Error);
    // The same words as a refused connection at open.
    expect(error.message).toContain(connectError('127.0.0.1:15432', refused(15432)).message.split(': ')[1]);
  });

  it('covers a connection that broke under a query, a reset, a pool timeout and a server shutting down', () => {
    const lost = [
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Client has encountered a connection error and is not queryable'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
      new AggregateError([refused(5432)], ''),
      databaseError('57P01', 'terminating connection due to administrator command'),
      databaseError('08006', 'connection failure'),
    ];
    for (const cause of lost) {
      expect(isConnectionLoss(cause)).toBe(true);
      const error = toStoreError('record the heartbeat of run r1', cause);
      expect({ code: error.code, oneLine: !error.message.includes('\n') }).toEqual({
        code: 'VK_STORE_UNREACHABLE',
        oneLine: true,
      });
      expect(error.message).toMatch(
        /^could not record the heartbeat of run r1: (lost the connection|could not connect)/,
      );
    }
    expect(toStoreError('x', new Error('Connection terminated unexpectedly')).message).toContain(
      'lost the connection to Postgres (Connection terminated unexpectedly)',
    );
  });

  it('leaves what the server refused, and our own errors, as they were', () => {
    const duplicate = toStoreError('add jobs', databaseError('23505', 'duplicate key value'));
    expect(duplicate.code).toBe('VK_STORE');
    expect(toStoreError('read', new Error('Query read timeout')).code).toBe('VK_STORE');
    expect(toStoreError('read', new Error('Client was closed and is not queryable')).code).toBe('VK_STORE');
    expect(isConnectionLoss(databaseError('42P01', 'relation "runs" does not exist'))).toBe(false);
  });
});
