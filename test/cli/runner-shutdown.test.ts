import { afterEach, describe, expect, it } from 'vitest';
import { runnerShutdownReason, Shutdown, shutdownLine } from '../../src/cli/runner-shutdown.js';

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

describe('shutdownLine', () => {
  const none = { jobs: 0, waitMs: 5_000 };
  const one = { jobs: 1, waitMs: 5_000 };

  it('says it stops at once only when no job runs and none it accepted awaits its lease', () => {
    expect(shutdownLine(1, 0, none)).toBe('draining: no job is running; stopping');
    expect(shutdownLine(1, 0, one)).toBe(
      'draining: no new jobs; waiting up to 5s for the lease of 1 job it accepted (signal again to cancel it)',
    );
    expect(shutdownLine(1, 2, none)).toBe(
      'draining: no new jobs; waiting for 2 running jobs (signal again to cancel them)',
    );
    expect(shutdownLine(1, 1, { jobs: 2, waitMs: 5_000 })).toBe(
      'draining: no new jobs; waiting for 1 running job, and up to 5s for the leases of 2 jobs it accepted ' +
        '(signal again to cancel them)',
    );
  });

  it('says the second signal leaves an accepted job unrun; the third says nothing', () => {
    expect(shutdownLine(2, 1, none)).toBe('cancelling 1 running job…');
    expect(shutdownLine(2, 0, one)).toBe('cancelling 0 running jobs; 1 job it accepted will not be run…');
    expect(shutdownLine(3, 1, one)).toBeUndefined();
  });
});
