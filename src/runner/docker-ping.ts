import { readFileSync } from 'node:fs';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { joinAlternatives } from '../core/alternatives.js';
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

/** Where the docker CLI reads its TLS files: DOCKER_CERT_PATH, else ~/.docker. */
function certDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CERT_PATH || join(homedir(), '.docker');
}

/**
 * Why a Docker API that did not answer the ping may not have, when the runner's own settings say
 * so: a tcp:// DOCKER_HOST spoken to over TLS, with files of DOCKER_CERT_PATH it needs that cannot
 * be read (ca.pem to verify the daemon under DOCKER_TLS_VERIFY, cert.pem and key.pem to show a
 * client certificate). The ping leaves such a file out, as the docker CLI leaves out a client
 * certificate it does not find; the daemon then refuses it, and nothing else would tell why.
 * undefined when no such file is missing (or, DOCKER_CERT_PATH unset, there is no home directory to
 * look in). The same settings give the same line: a runner tells it once.
 */
export function dockerTlsFilesNote(env: NodeJS.ProcessEnv): string | undefined {
  const endpoint = dockerEndpoint(env);
  const verify = Boolean(env.DOCKER_TLS_VERIFY);
  if (!endpoint.startsWith('tcp://') || !(verify || Boolean(env.DOCKER_TLS))) return undefined;
  let dir: string;
  try {
    dir = certDir(env);
  } catch {
    // No home directory to find ~/.docker in (HOME unset, a user without a passwd entry): os.homedir()
    // throws, which would fail the whole detection; the ping's own failure leaves only Docker out.
    return undefined;
  }
  const missing: string[] = [];
  const unreadable: string[] = [];
  for (const name of verify ? ['ca.pem', 'cert.pem', 'key.pem'] : ['cert.pem', 'key.pem']) {
    const code = unreadableCode(join(dir, name));
    if (code === 'ENOENT' || code === 'ENOTDIR') missing.push(name);
    else if (code !== undefined) unreadable.push(`${name} (${code})`);
  }
  if (missing.length === 0 && unreadable.length === 0) return undefined;
  const lacks = [
    ...(missing.length === 0 ? [] : [`has no ${joinAlternatives(missing)}`]),
    ...(unreadable.length === 0 ? [] : [`cannot read ${unreadable.join(', ')}`]),
  ];
  const where = env.DOCKER_CERT_PATH ? dir : `not set: ${dir}`;
  return (
    `Docker is left out of the capabilities: ${endpoint} gave no answer over TLS ` +
    `(${verify ? 'DOCKER_TLS_VERIFY' : 'DOCKER_TLS'} is set), and DOCKER_CERT_PATH (${where}) ${lacks.join('; ')}`
  );
}

/** The error code reading `file` fails with (ENOENT, EACCES, EISDIR…), or undefined when it reads. */
function unreadableCode(file: string): string | undefined {
  try {
    readFileSync(file);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ?? 'unreadable';
  }
}

/** The docker CLI's TLS settings from the environment; a file that is not there is left out. */
function clientTls(env: NodeJS.ProcessEnv): RequestOptions {
  const dir = certDir(env);
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
