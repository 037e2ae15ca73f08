import { describe, expect, it } from 'vitest';
import { RunnerRegistry } from '../../src/engine/runner-registry.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';

const info = { name: 'build-1', labels: ['linux'], capacity: 2 };

function connect(registry: RunnerRegistry, runnerId?: string) {
  const [transport] = inProcessPair<ControlMessage, RunnerMessage>();
  const session = registry.open(transport, runnerId === undefined ? undefined : { runnerId });
  registry.register(session, info, undefined);
  return session;
}

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
});
