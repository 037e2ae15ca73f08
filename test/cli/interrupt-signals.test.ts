import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { InterruptSignals } from '../../src/cli/interrupt-signals.js';

/**
 * The signals are emitted to the listeners, not sent; the process's own kill is caught, as it
 * would end the test process (the e2e tests of submit see a real one end by it).
 */
describe('InterruptSignals', () => {
  let kill: MockInstance;
  let signals: InterruptSignals | undefined;
  const early = vi.fn();
  const first = vi.fn();

  beforeEach(() => {
    kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
  });
  afterEach(() => {
    signals?.close();
    vi.restoreAllMocks();
    early.mockReset();
    first.mockReset();
  });

  it('keeps a signal that came before the handler, says so, and hands it over once there is one', () => {
    signals = InterruptSignals.listen('stop', early);
    process.emit('SIGINT');
    expect(early).toHaveBeenCalledWith('SIGINT');
    signals.onFirst(first);
    expect(first).toHaveBeenCalledWith('SIGINT');
    expect(signals.interrupted).toBe(true);
    expect(signals.exitCode).toBe(130);
  });

  it('ends the process by a second signal that came before the handler, in either mode', () => {
    for (const second of ['stop', 'exit'] as const) {
      signals = InterruptSignals.listen(second, early);
      process.emit('SIGTERM');
      process.emit('SIGINT');
      expect(kill).toHaveBeenLastCalledWith(process.pid, 'SIGINT');
      signals.close();
    }
  });

  it("'stop': a second signal after the handler aborts stop, and 143 once a SIGTERM came", () => {
    signals = InterruptSignals.listen('stop');
    signals.onFirst(first);
    process.emit('SIGINT');
    expect(first).toHaveBeenCalledOnce();
    expect(signals.stop.aborted).toBe(false);
    expect(signals.exitCode).toBe(130);
    process.emit('SIGTERM');
    expect(signals.stop.aborted).toBe(true);
    expect(kill).not.toHaveBeenCalled();
    expect(first).toHaveBeenCalledOnce();
    expect(signals.exitCode).toBe(143);
  });

  it("'exit': a second signal after the handler ends the process by that signal", () => {
    signals = InterruptSignals.listen('exit');
    signals.onFirst(first);
    process.emit('SIGTERM');
    expect(first).toHaveBeenCalledWith('SIGTERM');
    expect(signals.exitCode).toBe(143);
    process.emit('SIGTERM');
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGTERM');
    expect(signals.stop.aborted).toBe(false);
  });
});
