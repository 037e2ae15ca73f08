import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

interface Operation {
  readonly operationId: string;
  readonly 'x-valkyrie-access'?: string;
}
interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
}

/** The API roles in order; any other access (job, credential, register) takes no API token. */
const roleRank: Record<string, number> = { read: 1, submit: 2, admin: 3 };

/**
 * A token whose role may not call a route gets 403 whatever it names: an id nothing has, a body the
 * route would refuse, a path parameter of the wrong form. A 404 or 400 would tell it what exists or
 * what the route takes (docs/server.md, Authentication).
 */
describe('the role is checked before anything the request names', () => {
  it('answers 403 to a read or submit token on every route that needs another role, with unknown ids and bad bodies', async () => {
    const { request, token } = await startTestServer();
    const doc = (await request('GET', '/api/v1/openapi.json')).body as Document;
    const bearers = { read: await token('read'), submit: await token('submit') };
    const tokensBefore = (await request('GET', '/api/v1/tokens')).body;
    const walked: string[] = [];
    for (const [role, bearer] of Object.entries(bearers)) {
      for (const [path, operations] of Object.entries(doc.paths))
        for (const [method, operation] of Object.entries(operations)) {
          const access = operation['x-valkyrie-access'];
          // Public routes need no token; a role's own routes are the ones it may call.
          if (access === undefined || (roleRank[access] ?? 4) <= (roleRank[role] ?? 0)) continue;
          // Every id unknown, of the right form or not ({action}: no action the route takes).
          const url = path.replace(/\{[^}]+\}/g, 'no-such-thing');
          const answer = await request(method.toUpperCase() as 'GET', url, {
            token: bearer,
            ...(method === 'get' || method === 'head' || method === 'delete'
              ? {}
              : { raw: '{"not": "what it takes"', headers: { 'content-type': 'application/json' } }),
          });
          expect(answer.status, `${role} ${method} ${url}`).toBe(403);
          if (method !== 'head')
            expect(answer.body, `${role} ${method} ${url}`).toMatchObject({ code: 'VK_FORBIDDEN' });
          walked.push(`${role} ${operation.operationId}`);
        }
    }
    // The admin-only routes for both roles, the submit ones for read; a job's, a runner's credential's
    // and a registration token's routes for both.
    expect(walked).toEqual(
      expect.arrayContaining([
        'read createToken',
        'read listTokens',
        'read revokeToken',
        'read setRunnerMode',
        'read submitRun',
        'read cancelRun',
        'read rerunFailedJobs',
        'read checkBundle',
        'read uploadBundle',
        'submit createToken',
        'submit listTokens',
        'submit revokeToken',
        'submit setRunnerMode',
        'submit getJobWorkspace',
        'submit revokeOwnCredential',
        'submit registerRunner',
      ]),
    );
    // Nothing changed: no token made or revoked.
    expect((await request('GET', '/api/v1/tokens')).body).toEqual(tokensBefore);
  });
});
