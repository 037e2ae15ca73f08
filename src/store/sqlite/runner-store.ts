import type Database from 'better-sqlite3';
import { counted } from '../../core/counted.js';
import type { OperatorMode, RunnerMode } from '../../core/runner-mode.js';
import {
  type ModeRow,
  operatorModes,
  type RunnerPresence,
  type RunnerStore,
  type StoredRunner,
} from '../runners.js';
import { nullable, type Writable } from './columns.js';
import type { GroupCommit } from './group-commit.js';

interface RunnerRow {
  id: string;
  name: string;
  labels: string;
  capacity: number;
  running: number;
  draining: number;
  transport: string | null;
  capabilities: string | null;
  replica: string;
  connected: number;
  first_seen_at: number;
  last_seen_at: number;
  mode: RunnerMode;
  mode_note: string | null;
  stopped_at: number | null;
}

const columns =
  'id, name, labels, capacity, running, draining, transport, capabilities, replica, connected, first_seen_at, last_seen_at, mode, mode_note, stopped_at';

type PresenceValues = [
  string,
  string,
  string,
  number,
  number,
  number,
  string | null,
  string | null,
  string,
  number,
  number,
];

/** RunnerStore on the shared connection. */
export class SqliteRunnerStore implements RunnerStore {
  readonly #upsert;
  readonly #disconnect;
  readonly #awayRunning;
  readonly #touch;
  readonly #setMode;
  readonly #find;
  readonly #modes;
  readonly #all;
  readonly #prune;
  readonly #remove;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
  ) {
    this.#upsert = db.prepare<PresenceValues>(
      `INSERT INTO runners (id, name, labels, capacity, running, draining, transport, capabilities, replica,
                            connected, first_seen_at, last_seen_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, labels = excluded.labels,
         capacity = excluded.capacity, running = excluded.running, draining = excluded.draining,
         transport = excluded.transport, capabilities = excluded.capabilities, replica = excluded.replica,
         connected = 1, last_seen_at = excluded.last_seen_at, stopped_at = NULL`,
    );
    this.#disconnect = db.prepare<[number, number | null, string, string]>(
      'UPDATE runners SET connected = 0, last_seen_at = ?, stopped_at = coalesce(?, stopped_at) WHERE id = ? AND replica = ?',
    );
    this.#awayRunning = db.prepare<[number, string, string]>(
      'UPDATE runners SET running = ? WHERE id = ? AND replica = ? AND connected = 0',
    );
    this.#touch = db.prepare<[number, string]>(
      'UPDATE runners SET last_seen_at = ? WHERE replica = ? AND connected = 1',
    );
    // The same mode again without a note keeps the note it has (setMode); both read the row before it.
    this.#setMode = db.prepare<[{ mode: RunnerMode; note: string | null; id: string }]>(
      'UPDATE runners SET mode_note = CASE WHEN @note IS NULL AND mode = @mode THEN mode_note ELSE @note END, mode = @mode WHERE id = @id',
    );
    this.#find = db.prepare<[string], RunnerRow>(`SELECT ${columns} FROM runners WHERE id = ?`);
    this.#modes = db.prepare<[], ModeRow>("SELECT id, mode, mode_note FROM runners WHERE mode <> 'online'");
    this.#all = db.prepare<[], RunnerRow>(`SELECT ${columns} FROM runners ORDER BY first_seen_at, id`);
    this.#prune = db.prepare<[number]>('DELETE FROM runners WHERE last_seen_at < ?');
    this.#remove = db.prepare<[string]>('DELETE FROM runners WHERE id = ?');
  }

  connected(replica: string, runners: readonly RunnerPresence[], at: number): Promise<void> {
    return this.commits.write(`record ${counted(runners.length, 'connected runner')}`, () => {
      for (const runner of runners) {
        this.#upsert.run(
          runner.id,
          runner.name,
          JSON.stringify(runner.labels),
          runner.capacity,
          runner.running,
          runner.draining ? 1 : 0,
          nullable(runner.transport),
          runner.capabilities === undefined ? null : JSON.stringify(runner.capabilities),
          replica,
          at,
          at,
        );
      }
    });
  }

  disconnected(replica: string, ids: readonly string[], at: number, stopped = false): Promise<void> {
    return this.commits.write(`record ${counted(ids.length, 'disconnected runner')}`, () => {
      for (const id of ids) this.#disconnect.run(at, stopped ? at : null, id, replica);
    });
  }

  awayRunning(replica: string, id: string, running: number): Promise<void> {
    return this.commits.write(`record the jobs of away runner ${id}`, () => {
      this.#awayRunning.run(running, id, replica);
    });
  }

  touch(replica: string, at: number): Promise<void> {
    return this.commits.write(`touch the runners of ${replica}`, () => {
      this.#touch.run(at, replica);
    });
  }

  setMode(id: string, mode: RunnerMode, note?: string): Promise<StoredRunner | undefined> {
    return this.commits.write(`set runner ${id} ${mode}`, () => {
      this.#setMode.run({ mode, note: mode === 'online' ? null : nullable(note), id });
      const row = this.#find.get(id);
      return row === undefined ? undefined : runnerOf(row);
    });
  }

  modes(): Promise<Map<string, OperatorMode>> {
    return this.commits.read('read runner modes', () => operatorModes(this.#modes.all()));
  }

  list(): Promise<StoredRunner[]> {
    return this.commits.read('list runners', () => this.#all.all().map(runnerOf));
  }

  prune(seenBefore: number): Promise<number> {
    return this.commits.write('prune runners', () => this.#prune.run(seenBefore).changes);
  }

  remove(id: string): Promise<boolean> {
    return this.commits.write(`remove runner ${id}`, () => this.#remove.run(id).changes > 0);
  }
}

function runnerOf(row: RunnerRow): StoredRunner {
  const runner: Writable<StoredRunner> = {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels) as string[],
    capacity: row.capacity,
    running: row.running,
    draining: row.draining === 1,
    replica: row.replica,
    connected: row.connected === 1,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    mode: row.mode,
  };
  if (row.transport !== null) runner.transport = row.transport;
  if (row.mode_note !== null) runner.modeNote = row.mode_note;
  if (row.stopped_at !== null) runner.stoppedAt = row.stopped_at;
  if (row.capabilities !== null) runner.capabilities = JSON.parse(row.capabilities) as object;
  return runner;
}
