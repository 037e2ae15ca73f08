import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { RunnerMode } from '../../src/core/runner-mode.js';
import type { RunnerView } from '../../src/engine/runner-view.js';
import { CredentialRevocations, type CredentialSessions } from '../../src/server/credential-revocations.js';
import { type LocalRunners, RunnerDirectory } from '../../src/server/runner-directory.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';

const opened: Stores[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const stores of opened.splice(0)) await stores.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The replica holding a runner's session, after its credential was revoked on another replica (which
 * removed the runner's row): a poll of this replica's directory that still saw the runner connected
 * writes the row back. Its revocation sweep must remove it again, or the revoked runner stays listed,
 * offline, until its retention (a day by default).
 */
describe('a runner whose credential another replica revoked', () => {
  it('leaves the fleet list although this replica wrote its row back before its sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-revoked-row-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    opened.push(stores);
    const id = 'cred_1';
    await stores.tokens.save({ id, role: 'credential', createdAt: Date.now(), hash: 'x' });
    let view: RunnerView = {
      id,
      name: 'r1',
      labels: ['linux'],
      capacity: 2,
      running: 0,
      mode: 'online',
      connected: true,
    };
    const local: LocalRunners = {
      runners: () => [view],
      setRunnerMode: (_runnerId: string, mode: RunnerMode) => {
        view = { ...view, mode };
        return true;
      },
      forgetRunners: () => {},
      runnersWithDetachedLeases: () => [],
      runnerConnectedElsewhere: () => {},
    };
    const directory = new RunnerDirectory(
      stores.runners,
      () => local,
      'replica-a',
      systemClock,
      60_000,
      86_400_000,
      (e) => {
        throw e;
      },
    );
    const sessions: CredentialSessions = {
      principals: () => new Set(view.connected ? [id] : []),
      revoke: (credentialId) => {
        if (credentialId !== id || !view.connected) return 0;
        view = { ...view, connected: false };
        return 1;
      },
    };
    const revocations = new CredentialRevocations(
      stores.tokens,
      () => [sessions],
      (runnerId) => directory.forget(runnerId),
      { runnerRevoked: () => {}, runnersWithDetachedLeases: () => [] },
      60_000,
      (e) => {
        throw e;
      },
    );
    await directory.sync();
    expect((await stores.runners.list()).map((row) => row.id)).toEqual([id]);

    // Replica B revokes the credential and removes the row; then this replica's runner takes a job
    // and a poll here writes its presence, before this replica's sweep has run.
    await stores.tokens.revoke(id, Date.now());
    await stores.runners.remove(id);
    view = { ...view, running: 1 };
    await directory.sync();
    expect((await stores.runners.list()).map((row) => row.id)).toEqual([id]);

    expect(await revocations.sweep()).toEqual([id]);
    expect(view.connected).toBe(false);
    await directory.sync();
    expect(await stores.runners.list()).toEqual([]);
  });
});
