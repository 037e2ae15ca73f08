import { counted } from '../../core/counted.js';
import type { OperatorMode, RunnerMode } from '../../core/runner-mode.js';
import {
  type ModeRow,
  operatorModes,
  type RunnerPresence,
  type RunnerStore,
  type StoredRunner,
} from '../runners.js';
import { millis, type Writable } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';

interface RunnerRow {
  id: string;
  name: string;
  labels: string[];
  capacity: number;
  running: number;
  draining: boolean;
  transport: string | null;
  capabilities: object | null;
  replica: string;
  connected: boolean;
  first_seen_at: string;
  last_seen_at: string;
  mode: RunnerMode;
  mode_note: string | null;
  stopped_at: string | null;
}

const columns =
  'id, name, labels, capacity, running, draining, transport, capabilities, replica, connected, first_seen_at, last_seen_at, mode, mode_note, stopped_at';

const statements = {
  // One statement for the whole batch; a replica writes every runner it holds in one round trip.
  upsert: {
    name: 'vk_runners_connected',
    text: `INSERT INTO runners (id, name, labels, capacity, running, draining, transport, capabilities, replica,
                               connected, first_seen_at, last_seen_at)
           SELECT id, name, labels, capacity, running, draining, transport, capabilities, $9, true, $10, $10
           FROM unnest($1::text[], $2::text[], $3::json[], $4::int[], $5::int[], $6::boolean[], $7::text[],
                       $8::json[]) AS r (id, name, labels, capacity, running, draining, transport, capabilities)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, labels = excluded.labels,
             capacity = excluded.capacity, running = excluded.running, draining = excluded.draining,
             transport = excluded.transport, capabilities = excluded.capabilities, replica = excluded.replica,
             connected = true, last_seen_at = excluded.last_seen_at, stopped_at = NULL`,
  },
  disconnect: {
    name: 'vk_runners_disconnected',
    text: `UPDATE runners SET connected = false, last_seen_at = $1, stopped_at = coalesce($4::bigint, stopped_at)
           WHERE id = ANY($2::text[]) AND replica = $3`,
  },
  awayRunning: {
    name: 'vk_runners_away_running',
    text: 'UPDATE runners SET running = $1 WHERE id = $2 AND replica = $3 AND NOT connected',
  },
  touch: {
    name: 'vk_runners_touch',
    text: 'UPDATE runners SET last_seen_at = $1 WHERE replica = $2 AND connected',
  },
  setMode: {
    name: 'vk_runner_set_mode',
    // The same mode again without a note keeps the note it has (setMode); both read the row before it.
    text: `UPDATE runners SET mode_note = CASE WHEN $3::text IS NULL AND mode = $1 THEN mode_note ELSE $3 END, mode = $1 WHERE id = $2 RETURNING ${columns}`,
  },
  modes: { name: 'vk_runner_modes', text: "SELECT id, mode, mode_note FROM runners WHERE mode <> 'online'" },
  all: { name: 'vk_list_runners', text: `SELECT ${columns} FROM runners ORDER BY first_seen_at, id` },
  prune: { name: 'vk_prune_runners', text: 'DELETE FROM runners WHERE last_seen_at < $1' },
  remove: { name: 'vk_remove_runner', text: 'DELETE FROM runners WHERE id = $1' },
} satisfies Record<string, Statement>;

/** RunnerStore on the shared pool. */
export class PostgresRunnerStore implements RunnerStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  connected(replica: string, runners: readonly RunnerPresence[], at: number): Promise<void> {
    if (runners.length === 0) return Promise.resolve();
    return this.#db.write(`record ${counted(runners.length, 'connected runner')}`, async (query) => {
      await query(statements.upsert, [
        runners.map((runner) => runner.id),
        runners.map((runner) => runner.name),
        runners.map((runner) => JSON.stringify(runner.labels)),
        runners.map((runner) => runner.capacity),
        runners.map((runner) => runner.running),
        runners.map((runner) => runner.draining),
        runners.map((runner) => runner.transport ?? null),
        runners.map((runner) =>
          runner.capabilities === undefined ? null : JSON.stringify(runner.capabilities),
        ),
        replica,
        at,
      ]);
    });
  }

  disconnected(replica: string, ids: readonly string[], at: number, stopped = false): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.#db.write(`record ${counted(ids.length, 'disconnected runner')}`, async (query) => {
      await query(statements.disconnect, [at, ids, replica, stopped ? at : null]);
    });
  }

  awayRunning(replica: string, id: string, running: number): Promise<void> {
    return this.#db.write(`record the jobs of away runner ${id}`, async (query) => {
      await query(statements.awayRunning, [running, id, replica]);
    });
  }

  touch(replica: string, at: number): Promise<void> {
    return this.#db.write(`touch the runners of ${replica}`, async (query) => {
      await query(statements.touch, [at, replica]);
    });
  }

  setMode(id: string, mode: RunnerMode, note?: string): Promise<StoredRunner | undefined> {
    return this.#db.write(`set runner ${id} ${mode}`, async (query) => {
      const noteValue = mode === 'online' ? null : (note ?? null);
      const { rows } = await query<RunnerRow>(statements.setMode, [mode, id, noteValue]);
      const row = rows[0];
      return row === undefined ? undefined : runnerOf(row);
    });
  }

  modes(): Promise<Map<string, OperatorMode>> {
    return this.#db.read('read runner modes', async (query) => {
      const { rows } = await query<ModeRow>(statements.modes, []);
      return operatorModes(rows);
    });
  }

  list(): Promise<StoredRunner[]> {
    return this.#db.read('list runners', async (query) => {
      const { rows } = await query<RunnerRow>(statements.all, []);
      return rows.map(runnerOf);
    });
  }

  prune(seenBefore: number): Promise<number> {
    return this.#db.write('prune runners', async (query) => {
      const { rowCount } = await query(statements.prune, [seenBefore]);
      return rowCount ?? 0;
    });
  }

  remove(id: string): Promise<boolean> {
    return this.#db.write(`remove runner ${id}`, async (query) => {
      const { rowCount } = await query(statements.remove, [id]);
      return (rowCount ?? 0) > 0;
    });
  }
}

function runnerOf(row: RunnerRow): StoredRunner {
  const runner: Writable<StoredRunner> = {
    id: row.id,
    name: row.name,
    labels: row.labels,
    capacity: row.capacity,
    running: row.running,
    draining: row.draining,
    replica: row.replica,
    connected: row.connected,
    firstSeenAt: millis(row.first_seen_at),
    lastSeenAt: millis(row.last_seen_at),
    mode: row.mode,
  };
  if (row.transport !== null) runner.transport = row.transport;
  if (row.capabilities !== null) runner.capabilities = row.capabilities;
  if (row.mode_note !== null) runner.modeNote = row.mode_note;
  if (row.stopped_at !== null) runner.stoppedAt = millis(row.stopped_at);
  return runner;
}
