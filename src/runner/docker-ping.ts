import { readFileSync } from 'node:fs';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RunnerCapabilities } from '../protocol/messages.js';

/** Where the Docker API listens: `DOCKER_HOST` (unix:// or tcp://), else the default socket. */
export function dockerEndpoint(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/**
 * The Docker Engine API at `DOCKER_HOST`, when it answers `GET /_ping` within `timeoutMs`. A tcp://
 * one is spoken to as the docker CLI does: over TLS when DOCKER_TLS_VERIFY (checking the daemon's
 * certificate) or DOCKER_TLS is set, with `ca.pem`, `cert.pem` and `key.pem` from DOCKER_CERT_PATH
 * (default ~/.docker) when there — as GitLab's docker:dind service is reached (tcp://docker:2376).
 * Never rejects: settings it cannot use (an address that is no URL, a key that is not of its
 * certificate) leave Docker out, as an unreachable daemon does, not the runner's other capabilities.
 */
export function pingDocker(
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunnerCapabilities['docker'] | undefined> {
  const endpoint = dockerEndpoint(env);
  const tls = Boolean(env.DOCKER_TLS_VERIFY) || Boolean(env.DOCKER_TLS);
  return new Promise((resolve) => {
    let ping: ClientRequest;
    try {
      const how = pingTarget(endpoint, tls, env);
      if (how === undefined) return resolve(undefined);
      const { target, request } = how;
      ping = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          if (response.statusCode !== 200 || body.trim() !== 'OK') return resolve(undefined);
          const apiVersion = response.headers['api-version'];
          resolve(typeof apiVersion === 'string' ? { endpoint, apiVersion } : { endpoint });
        });
        response.on('error', () => resolve(undefined));
      });
    } catch {
      // new URL's and the TLS context's own errors, thrown at once.
      return resolve(undefined);
    }
    ping.on('timeout', () => ping.destroy(new Error('timed out')));
    ping.on('error', () => resolve(undefined));
    ping.end();
  });
}

/** Where and how to ask `endpoint`: undefined for another scheme; throws for an address that is no URL. */
function pingTarget(
  endpoint: string,
  tls: boolean,
  env: NodeJS.ProcessEnv,
): { target: RequestOptions; request: typeof httpRequest } | undefined {
  if (endpoint.startsWith('unix://'))
    return { target: { socketPath: endpoint.slice('unix://'.length) }, request: httpRequest };
  if (!endpoint.startsWith('tcp://')) return undefined;
  const url = new URL(`http://${endpoint.slice('tcp://'.length)}`);
  const target = { host: url.hostname, port: Number(url.port || (tls ? 2376 : 2375)) };
  return tls
    ? { target: { ...target, ...clientTls(env) }, request: httpsRequest }
    : { target, request: httpRequest };
}

/** The docker CLI's TLS settings from the environment; a file that is not there is left out. */
function clientTls(env: NodeJS.ProcessEnv): RequestOptions {
  const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const file = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return undefined;
    }
  };
  const [ca, cert, key] = [file('ca.pem'), file('cert.pem'), file('key.pem')];
  return {
    rejectUnauthorized: Boolean(env.DOCKER_TLS_VERIFY),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined || key === undefined ? {} : { cert, key }),
  };
}
