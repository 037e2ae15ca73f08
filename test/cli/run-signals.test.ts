import { writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { RunSignals } from '../../src/cli/run-signals.js';

// The third signal's line is written synchronously, to reach the terminal before the exit.
vi.mock('node:fs', async (actual) => ({ ...(await actual<typeof import('node:fs')>()), writeSync: vi.fn() }));

/** The signals are emitted to the listeners, not sent: the test process is not signalled. */
describe('RunSignals', () => {
  let stderr: MockInstance;
  let exit: MockInstance;
  let signals: RunSignals;
  const flushed = vi.fn();
  const cancel = vi.fn();
  const printed = () => stderr.mock.calls.map(([text]) => String(text)).join('');

  beforeEach(() => {
    stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    signals = new RunSignals(flushed);
    signals.listen();
  });
  afterEach(() => {
    signals.unlisten();
    vi.restoreAllMocks();
    flushed.mockReset();
    cancel.mockReset();
    vi.mocked(writeSync).mockReset();
  });

  it('cancels gracefully at the first Ctrl-C, kills the steps at the second, exits 130 at the third', () => {
    signals.drive({ cancel });
    process.emit('SIGINT');
    expect(signals.interrupted).toBe(true);
    expect(cancel).toHaveBeenLastCalledWith(false, 'the run was interrupted (SIGINT)');
    expect(printed()).toContain('Cancelling the run (Ctrl-C again to kill at once)…');
    process.emit('SIGINT');
    expect(cancel).toHaveBeenLastCalledWith(true, 'the run was interrupted (SIGINT)');
    expect(printed()).toContain('SIGINT again: killing the steps (a third exits without waiting)');
    expect(exit).not.toHaveBeenCalled();
    process.emit('SIGINT');
    expect(flushed).toHaveBeenCalledOnce();
    expect(writeSync).toHaveBeenCalledWith(
      2,
      '\nSIGINT again: exiting without waiting for the run to finish stopping; it is left interrupted (valkyrie resume RUN continues it)\n',
    );
    expect(exit).toHaveBeenCalledWith(130);
    expect(cancel).toHaveBeenCalledTimes(2);
  });

  it('exits 130 at the third signal though stderr cannot take its line', () => {
    vi.mocked(writeSync).mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    signals.drive({ cancel });
    for (let i = 0; i < 3; i++) process.emit('SIGINT');
    expect(exit).toHaveBeenCalledWith(130);
  });

  it('keeps the first signal as the reason, and exits 143 once a SIGTERM came', () => {
    signals.drive({ cancel });
    process.emit('SIGTERM');
    process.emit('SIGINT');
    expect(cancel).toHaveBeenLastCalledWith(true, 'the run was interrupted (SIGTERM)');
    expect(signals.terminated).toBe(true);
    process.emit('SIGINT');
    expect(exit).toHaveBeenCalledWith(143);
  });

  it('hands a signal that came while the run was being started to the run once it is driven', () => {
    process.emit('SIGINT');
    expect(cancel).not.toHaveBeenCalled();
    signals.drive({ cancel });
    expect(cancel).toHaveBeenCalledWith(false, 'the run was interrupted (SIGINT)');
  });

  it('stops listening when told', () => {
    signals.drive({ cancel });
    signals.unlisten();
    const keep = () => {};
    process.on('SIGINT', keep); // without any listener, an emitted SIGINT would not be caught by vitest
    process.emit('SIGINT');
    process.off('SIGINT', keep);
    expect(cancel).not.toHaveBeenCalled();
    signals.listen();
  });
});
