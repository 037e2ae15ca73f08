import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { adminToken, connectScriptedRunner, credential, startTestServer } from '../server/helpers.js';
import { Workspace } from './cli.js';

describe('valkyrie runners', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  /** The id of the one runner `valkyrie runners list` shows, once it shows one. */
  async function onlyRunnerListed(env: Record<string, string>): Promise<string> {
    let listed: { id: string }[] = [];
    await expect
      .poll(async () => {
        listed = JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout);
        return listed.length;
      })
      .toBe(1);
    return listed[0]?.id ?? '';
  }

  it('lists the fleet, drains and resumes a runner, and refuses an unknown one or a read token (as token commands do)', async () => {
    const { server, request, token } = await startTestServer();
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    expect((await ws.run(['runners', 'list'], env)).stdout).toBe(
      "No runners: none is connected, or was seen within the server's runner retention.\n",
    );

    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    let listed: { id: string; name: string; mode: string; connected: boolean }[] = [];
    await expect
      .poll(async () => {
        listed = JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout);
        return listed.length;
      })
      .toBe(1);
    const id = listed[0]?.id ?? '';
    const table = (await ws.run(['runners', 'list'], env)).stdout.split('\n');
    expect(table[0]).toMatch(/^ID\s+NAME\s+STATUS\s+MODE\s+JOBS\s+LABELS\s+LAST SEEN$/);
    expect(table[1]).toMatch(new RegExp(`^${id}\\s+scripted\\s+online\\s+online\\s+0/2\\s+linux`));
    // `runners` alone lists them, as `runs` lists runs; a mistyped command is refused as one.
    const bare = await ws.run(['runners'], env);
    expect(bare.code).toBe(0);
    expect(bare.stdout.split('\n')[1]).toMatch(new RegExp(`^${id}\\s+scripted\\s+online`));
    const mistyped = await ws.run(['runners', 'drian', id], env);
    expect(mistyped).toMatchObject({
      code: 2,
      stderr:
        "valkyrie: unknown command 'runners drian' (did you mean 'drain'?); its commands: list, drain, maintenance, resume, remove\n",
    });

    // By its name, as listed; resumed by the start of its id.
    const drained = await ws.run(['runners', 'drain', 'scripted'], env);
    expect(drained).toMatchObject({
      code: 0,
      stdout: `Runner ${id} (scripted) is draining: it gets no new jobs, and its running jobs finish.\n`,
    });
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]).toMatchObject({
      mode: 'draining',
    });
    expect(await ws.run(['runners', 'resume', id.slice(0, 6)], env)).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('is online again'),
    });
    // Resumed again, it is not said to be online "again": nothing changed.
    expect(await ws.run(['runners', 'resume', id], env)).toMatchObject({
      code: 0,
      stdout: `Runner ${id} (scripted) is online (it was already).\n`,
    });

    const unknown = await ws.run(['runners', 'maintenance', 'rnr_nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('no runner rnr_nope');

    const reader = await token('read');
    const refused = await ws.run(['runners', 'drain', id], { ...env, VALKYRIE_TOKEN: reader });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toContain('a token with the admin role');
    // Refused by role whether or not the name is listed, as the server and token revoke refuse it.
    for (const command of [
      ['runners', 'drain', 'rnr_nope'],
      ['runners', 'remove', 'rnr_nope'],
    ]) {
      const unlisted = await ws.run(command, { ...env, VALKYRIE_TOKEN: reader });
      expect(unlisted).toMatchObject({
        code: 77,
        stderr: expect.stringContaining('a token with the admin role'),
      });
    }
    // Token commands report a refused token the same way.
    const tokens = await ws.run(['token'], { ...env, VALKYRIE_TOKEN: reader });
    expect(tokens.code).toBe(77);
    expect(tokens.stderr).not.toContain('    at ');
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]).toMatchObject({
      mode: 'online',
    });
    runner.transport.close();

    // Gone, it stays listed as offline (until the retention); its credential revoked, it is deregistered.
    await expect
      .poll(async () => (await ws.run(['runners', 'list'], env)).stdout.split('\n')[1] ?? '')
      .toMatch(new RegExp(`^${id}\\s+scripted\\s+offline\\s+online\\s+0/2`));
    // Drained while away: no running jobs to finish; the mode is the one it comes back in.
    expect(await ws.run(['runners', 'drain', id], env)).toMatchObject({
      code: 0,
      stdout: `Runner ${id} (scripted) is offline: it comes back draining, as set now, when it connects again.\n`,
    });
    // A runner's id is a token id like any other: revoking it says which runner that took away.
    expect(await ws.run(['token', 'revoke', id], env)).toMatchObject({
      code: 0,
      stdout: `Revoked token ${id}, the credential of runner ${id}: that runner is disconnected and cannot connect again.\n`,
    });
    expect((await ws.run(['runners', 'list'], env)).stdout).toBe(
      "No runners: none is connected, or was seen within the server's runner retention.\n",
    );
  });

  it('does not call a runner that drains itself (SIGTERM on its machine) online again when resumed', async () => {
    const { server, request, token } = await startTestServer();
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const id = await onlyRunnerListed(env);
    runner.transport.send({ type: 'drain', reason: 'SIGTERM' });
    await expect
      .poll(async () => JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]?.mode)
      .toBe('draining');
    expect(await ws.run(['runners', 'resume', id], env)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        new RegExp(
          `^Runner ${id} \\(scripted\\) is stopping on its own machine .*resume cannot undo: it takes no new jobs, finishes its running ones and exits; start it again there to have it back\\.\\n$`,
        ),
      ),
    });
    runner.transport.close();
  });

  it("keeps an operator's note with a runner set aside, lists it, and drops it when the runner is resumed", async () => {
    const { server, request, token } = await startTestServer();
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const id = await onlyRunnerListed(env);
    const maintained = await ws.run(
      ['runners', 'maintenance', 'scripted', '--note', 'disk swap until 14:00'],
      env,
    );
    expect(maintained).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/is in maintenance: .*\. Note: disk swap until 14:00\n$/),
    });
    const table = (await ws.run(['runners'], env)).stdout.split('\n');
    expect(table[0]).toMatch(/\sLAST SEEN\s+NOTE$/);
    expect(table[1]).toMatch(/\smaintenance\s.*\sdisk swap until 14:00$/);
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]).toMatchObject({
      mode: 'maintenance',
      modeNote: 'disk swap until 14:00',
    });
    // The same mode again without --note changes nothing: the note stays, and the runner is told no
    // new mode (it would print its mode line again, without the note).
    expect(await ws.run(['runners', 'maintenance', 'scripted'], env)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/is in maintenance: .*\. Note: disk swap until 14:00\n$/),
    });
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]).toMatchObject({
      modeNote: 'disk swap until 14:00',
    });
    expect(runner.modes.filter((message) => message.type === 'mode')).toEqual([
      { type: 'mode', mode: 'maintenance', note: 'disk swap until 14:00' },
    ]);
    // A control character would let a note forge a line of the table: refused, nothing changed.
    const forged = await ws.run(['runners', 'drain', 'scripted', '--note', 'a\nb'], env);
    expect(forged.code).toBe(2);
    expect(forged.stderr).toContain('--note: must be one line of text, without control characters');
    expect(forged.stderr).not.toContain('body.note');
    expect(await request('POST', `/api/v1/runners/${id}/resume`, { body: { note: 'x' } })).toMatchObject({
      status: 400,
      body: { path: 'body.note' },
    });
    expect(await ws.run(['runners', 'resume', 'scripted'], env)).toMatchObject({ code: 0 });
    expect((await ws.run(['runners'], env)).stdout.split('\n')[0]).toMatch(/\sLAST SEEN$/);
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)[0]).not.toHaveProperty(
      'modeNote',
    );
    expect((await ws.run(['runners', 'resume', '--help'], env)).stdout).not.toContain('--note');
    // Which command the group runs alone, in words no other part of the line can be taken for.
    const tokenHelp = (await ws.run(['token', '--help'], env)).stdout.replace(/\s+/g, ' ');
    expect(tokenHelp).toContain('revoked and expired ones included; `valkyrie token` alone does this');
    const runnersHelp = (await ws.run(['runners', '--help'], env)).stdout.replace(/\s+/g, ' ');
    expect(runnersHelp).toContain('from all its replicas; `valkyrie runners` alone does this');
    // Each command of both groups says its exit codes, as show, logs and cancel do.
    const tokenCodes =
      'Exit codes: 0 done, 2 usage or a request the server refused (revoke of an id no token has), 69 server unreachable or failing, 77 token refused';
    const runnersCodes =
      'Exit codes: 0 done, 2 usage, a runner not listed, or a request the server refused, 69 server unreachable or failing, 77 token refused';
    for (const [command, codes] of [
      [['token'], tokenCodes],
      [['token', 'create'], tokenCodes],
      [['token', 'list'], tokenCodes],
      [['token', 'revoke'], tokenCodes],
      [['runners'], runnersCodes],
      [['runners', 'list'], runnersCodes],
      [['runners', 'drain'], runnersCodes],
      [['runners', 'maintenance'], runnersCodes],
      [['runners', 'resume'], runnersCodes],
      [['runners', 'remove'], runnersCodes],
    ] as const) {
      const help = (await ws.run([...command, '--help'], env)).stdout.replace(/\s+/g, ' ');
      expect(help, command.join(' ')).toContain(codes);
    }
    runner.transport.close();
  });

  it('removes a connected runner by its id, revoking its credential, and refuses an id no runner has', async () => {
    const { server, request, token } = await startTestServer();
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const closed = new Promise((resolve) => runner.transport.onCloseInfo(resolve));
    const id = await onlyRunnerListed(env);
    // A submit token's id is not a runner's: nothing is revoked.
    const submitTokenId = (await token('submit')).split('.')[1] ?? '';
    const notRunner = await ws.run(['runners', 'remove', submitTokenId], env);
    expect(notRunner.code).toBe(2);
    expect(notRunner.stderr).toContain(`no runner ${submitTokenId} is listed`);
    expect(notRunner.stderr).toContain(
      'nothing was revoked. Another token is revoked with valkyrie token revoke ID',
    );

    const removed = await ws.run(['runners', 'remove', id], env);
    expect(removed).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`Removed runner ${id} (scripted)`),
    });
    expect(await closed).toMatchObject({ kind: 'refused', code: 'VK_CREDENTIAL_REVOKED' });
    expect(JSON.parse((await ws.run(['runners', 'list', '--json'], env)).stdout)).toEqual([]);
    const tokens = JSON.parse((await ws.run(['token', 'list', '--json'], env)).stdout) as {
      id: string;
      revokedAt?: number;
    }[];
    expect(tokens.find((listedToken) => listedToken.id === submitTokenId)?.revokedAt).toBeUndefined();
  });

  it("says a runner is not listed when the role question fails for another reason than the token's", async () => {
    // A server (or the proxy in front of it) that lists no runner and fails the admin-only question.
    const server = createServer((request, response) => {
      const body = request.url?.startsWith('/api/v1/runners')
        ? { status: 200, json: { runners: [] } }
        : { status: 502, json: { code: 'VK_INTERNAL', message: 'bad gateway' } };
      response.writeHead(body.status, { 'content-type': 'application/json' }).end(JSON.stringify(body.json));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const drained = await ws.run(['runners', 'drain', 'rnr_nope'], {
        VALKYRIE_SERVER: url,
        VALKYRIE_TOKEN: 't',
      });
      expect(drained.code).toBe(2);
      expect(drained.stderr).toMatch(/no runner rnr_nope is listed/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
