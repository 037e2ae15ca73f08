import { describe, expect, it } from 'vitest';
import { RunnerRegistry } from '../../src/engine/runner-registry.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';

const info = { name: 'build-1', labels: ['linux'], capacity: 2 };

function connect(registry: RunnerRegistry, runnerId?: string, modeMessages?: boolean) {
  const [transport, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
  const received: ControlMessage[] = [];
  runnerEnd.onMessage((message) => received.push(message));
  const session = registry.open(transport, runnerId === undefined ? undefined : { runnerId });
  registry.register(session, {
    type: 'register',
    version: 1,
    runner: info,
    ...(modeMessages === undefined ? {} : { modeMessages }),
  });
  return Object.assign(session, { received });
}

const delivered = () => new Promise((resolve) => setTimeout(resolve, 0));

const listed = (registry: RunnerRegistry) =>
  registry
    .views(
      () => 0,
      () => true,
    )
    .map(({ id, connected }) => ({ id, connected }));

describe('RunnerRegistry', () => {
  it('lists a runner with an identity as disconnected after it leaves, until it is forgotten', () => {
    const registry = new RunnerRegistry();
    registry.closed(connect(registry, 'rnr_a'), 1_000);
    expect(listed(registry)).toEqual([{ id: 'rnr_a', connected: false }]);
    registry.forgetClosedBefore(1_000);
    expect(listed(registry)).toEqual([{ id: 'rnr_a', connected: false }]);
    registry.forgetClosedBefore(1_001);
    expect(listed(registry)).toEqual([]);
    expect(registry.setMode('rnr_a', 'maintenance')).toBe(false);
  });

  it('keeps a runner that came back, and forgets one without identity as it leaves', () => {
    const registry = new RunnerRegistry();
    registry.closed(connect(registry, 'rnr_back'), 1_000);
    connect(registry, 'rnr_back');
    const anonymous = connect(registry);
    registry.closed(anonymous, 1_000);
    registry.forgetClosedBefore(5_000);
    expect(listed(registry)).toEqual([{ id: 'rnr_back', connected: true }]);
    expect(registry.find(['linux'])?.runnerId).toBe('rnr_back');
  });

  it('forgets the detached jobs with the runner: a runner that returns registers anew', () => {
    const registry = new RunnerRegistry();
    const session = connect(registry, 'rnr_gone');
    registry.closed(session, 1_000);
    registry.detach(session, ['run.1']);
    registry.forgetClosedBefore(2_000);
    connect(registry, 'rnr_gone');
    expect(registry.takeDetached('rnr_gone')).toEqual([]);
  });

  it("lists a runner that drained itself as draining only while connected: stopped, it shows its operator's mode", () => {
    const registry = new RunnerRegistry();
    const drained = connect(registry, 'rnr_self');
    registry.drained(drained);
    const modes = () =>
      registry
        .views(
          () => 0,
          () => true,
        )
        .map(({ id, mode }) => ({ id, mode }));
    expect(modes()).toEqual([{ id: 'rnr_self', mode: 'draining' }]);
    registry.closed(drained, 1_000, true);
    const other = connect(registry, 'rnr_kept');
    registry.setMode('rnr_kept', 'maintenance');
    registry.closed(other, 1_000, true);
    expect(modes()).toEqual([
      { id: 'rnr_self', mode: 'online' },
      { id: 'rnr_kept', mode: 'maintenance' },
    ]);
  });

  it("tells a runner that asked for them its operator's mode changes, and none it did not ask for or the server's own", async () => {
    const registry = new RunnerRegistry((id) => (id === 'rnr_told' ? { mode: 'draining' } : undefined));
    const told = connect(registry, 'rnr_told', true);
    const silent = connect(registry, 'rnr_silent');
    expect(registry.registered(told)).toEqual({
      type: 'registered',
      runnerId: 'rnr_told',
      mode: 'draining',
      logStored: true,
    });
    expect(registry.registered(silent)).toEqual({
      type: 'registered',
      runnerId: 'rnr_silent',
      logStored: true,
    });
    registry.setMode('rnr_told', 'draining', true);
    registry.setMode('rnr_told', 'online', true);
    registry.setMode('rnr_told', 'maintenance', false);
    registry.setMode('rnr_silent', 'maintenance', true);
    await delivered();
    expect(told.received).toEqual([{ type: 'mode', mode: 'online' }]);
    expect(silent.received).toEqual([]);
  });

  it("tells the operator's note with the mode, at register and when only the note changes; online drops it", async () => {
    const stored = { mode: 'maintenance', note: 'disk swap until 14:00' } as const;
    const registry = new RunnerRegistry((id) => (id === 'rnr_noted' ? stored : undefined));
    const noted = connect(registry, 'rnr_noted', true);
    expect(registry.registered(noted)).toEqual({
      type: 'registered',
      runnerId: 'rnr_noted',
      mode: 'maintenance',
      note: 'disk swap until 14:00',
      logStored: true,
    });
    registry.setMode('rnr_noted', 'maintenance', true, 'disk swap until 14:00');
    registry.setMode('rnr_noted', 'maintenance', true, 'until 16:00 now');
    registry.setMode('rnr_noted', 'draining', true);
    registry.setMode('rnr_noted', 'online', true, 'ignored');
    await delivered();
    expect(noted.received).toEqual([
      { type: 'mode', mode: 'maintenance', note: 'until 16:00 now' },
      { type: 'mode', mode: 'draining' },
      { type: 'mode', mode: 'online' },
    ]);
    expect(registry.registered(noted)).toEqual({
      type: 'registered',
      runnerId: 'rnr_noted',
      logStored: true,
    });
  });
});
