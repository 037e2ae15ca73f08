import type { LaunchSink } from './protocol.js';
import type { SpawnerProcess } from './spawner-process.js';

/**
 * The process groups of steps that `auto` started in this process because no spawner was ready.
 * A spawner stops its own steps' groups when the engine is gone, even by SIGKILL; these it is handed
 * (`adopt`) once it is ready, and they are taken back (`forget`) when their step has drained, as it
 * drops its own then, before the number can be reused. So a SIGKILL misses only the steps started
 * by an engine whose spawner was not ready yet, and only until it is.
 *
 * One spawner at a time, the keeper, holds every group: the first one ready after the groups began,
 * until it dies; the next one ready after that takes them all.
 */
export class InProcessGroups {
  private readonly groups = new Set<number>();
  private keeper: SpawnerProcess | undefined;
  private readonly watched = new WeakSet<SpawnerProcess>();

  /** `sink` for a launch in this process, keeping track of the group the launch starts. */
  track(sink: LaunchSink): LaunchSink {
    let group: number | undefined;
    return {
      spawned: (pid) => {
        group = pid;
        this.groups.add(pid);
        this.currentKeeper()?.adopt(pid);
        sink.spawned(pid);
      },
      failed: (code, message) => sink.failed(code, message),
      output: (stream, data, at) => sink.output(stream, data, at),
      exited: (code, signal) => sink.exited(code, signal),
      drained: (groupGone) => {
        if (group !== undefined && this.groups.delete(group)) this.currentKeeper()?.forget(group);
        group = undefined;
        sink.drained(groupGone);
      },
    };
  }

  /** Hands the groups to `spawner` once it is ready, unless a keeper is still ready then. */
  handTo(spawner: SpawnerProcess): void {
    if (this.watched.has(spawner)) return;
    this.watched.add(spawner);
    // Not whenReady(): this only watches, and must not keep the engine alive for the spawner.
    void spawner.readiness.then((ready) => {
      if (!ready || this.currentKeeper() !== undefined) return;
      this.keeper = spawner;
      for (const group of this.groups) spawner.adopt(group);
    });
  }

  private currentKeeper(): SpawnerProcess | undefined {
    if (this.keeper?.isReady === false) this.keeper = undefined;
    return this.keeper;
  }
}
