import { afterEach, describe, expect, it } from 'vitest';
import { runnerShutdownReason, Shutdown } from '../../src/cli/runner-shutdown.js';

describe('Shutdown', () => {
  let shutdown: Shutdown | undefined;
  afterEach(() => shutdown?.unlisten());

  it('counts SIGHUP as a stop signal, exit 129, unless a SIGTERM came too (143)', () => {
    shutdown = new Shutdown();
    shutdown.listen();
    const seen: string[] = [];
    shutdown.onEscalate((level, signal) => seen.push(`${level} ${signal}`));
    process.emit('SIGHUP', 'SIGHUP');
    expect(shutdown).toMatchObject({ level: 1, last: 'SIGHUP', exitCode: 129 });
    expect(shutdown.signal.aborted).toBe(true);
    process.emit('SIGINT', 'SIGINT');
    expect(shutdown).toMatchObject({ level: 2, last: 'SIGINT', exitCode: 129 });
    process.emit('SIGTERM', 'SIGTERM');
    expect(shutdown).toMatchObject({ level: 3, last: 'SIGTERM', exitCode: 143 });
    expect(seen).toEqual(['1 SIGHUP', '2 SIGINT', '3 SIGTERM']);
    expect(runnerShutdownReason(2, 'SIGHUP')).toBe('the runner is shutting down (second SIGHUP)');
  });

  it('Ctrl-C alone exits 130; once unlistened, a signal no longer counts', () => {
    shutdown = new Shutdown();
    shutdown.listen();
    process.emit('SIGINT', 'SIGINT');
    expect(shutdown.exitCode).toBe(130);
    shutdown.unlisten();
    process.emit('SIGHUP', 'SIGHUP');
    expect(shutdown.level).toBe(1);
  });
});
