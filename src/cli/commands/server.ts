import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { isBlockedPort } from '../../core/blocked-ports.js';
import { counted } from '../../core/counted.js';
import { parseDuration } from '../../core/duration.js';
import { messageOf } from '../../core/error-message.js';
import { isValkyrieError } from '../../core/errors.js';
import { readFailureText } from '../../core/read-failure.js';
import { formatDelay } from '../../core/retry-delay.js';
import { serverFailureLine } from '../../server/failure-line.js';
import { type Drained, type ServerOptions, ValkyrieServer } from '../../server/server.js';
import { isHeldByAnotherServer, ServerStoreLock } from '../../server/store-lock.js';
import { apiTokenId, checkAdminToken } from '../../server/tokens.js';
import { lostOutputExitCode, type OutputLoss, writeOrLoss } from '../closed-output.js';
import { ExitCode, exitCodeFor, UsageError } from '../exit-codes.js';
import { expandHome } from '../home-path.js';
import { queueCapacityFlag } from '../queue-options.js';
import { retentionFlag } from '../retention-options.js';
import { directoryOption, newStatePaths, openStores, removeNewState, sqliteFileOf } from '../state.js';
import { type StopSignal, signalExitCode, stopSignals } from '../stop-signals.js';

export interface ServerCommandOptions {
  readonly host: string;
  readonly port: string;
  readonly db?: string;
  readonly dataDir?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly drainTimeout: string;
  readonly bodyTimeout: string;
  readonly leaseTtl: string;
  readonly offerTtl: string;
  readonly runnerRetention: string;
  readonly bundleRetention: string;
  readonly queueCapacity?: string;
  readonly maxTakeovers?: string;
}

/**
 * Runs the control plane until SIGTERM, SIGINT or SIGHUP (untilStopped): the first drains (the API answers 503,
 * running runs get up to --drain-timeout), a second stops without draining, a third exits without
 * waiting. Prints one line with the URL once listening.
 */
export async function serverCommand(options: ServerCommandOptions): Promise<number> {
  // Node takes an empty host for every interface: a unit file's unset variable must not open the server up.
  if (options.host.trim() === '')
    throw new UsageError(
      `--host: expected an address to listen on, such as 127.0.0.1, or 0.0.0.0 for every interface, received ${JSON.stringify(options.host)}`,
    );
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: expected a port number 0-65535, received ${JSON.stringify(options.port)}`);
  if (isBlockedPort(port))
    throw new UsageError(
      `--port: ${port} is a port that fetch, which runners and clients use, never connects to (a blocked port); choose another`,
    );
  const drainTimeoutMs = durationFlag('--drain-timeout', options.drainTimeout, 0);
  // Shorter, and a client on a congested link or one paused by its OS would be cut off mid-upload.
  const bodyIdleTimeoutMs = durationFlag('--body-timeout', options.bodyTimeout, 1000);
  const leaseTtlMs = durationFlag('--lease-ttl', options.leaseTtl, minLeaseTtlMs);
  const offerTtlMs = durationFlag('--offer-ttl', options.offerTtl, minOfferTtlMs);
  const runnerRetentionMs = retentionFlag('--runner-retention', options.runnerRetention);
  const bundleRetentionMs = retentionFlag('--bundle-retention', options.bundleRetention);
  const queueCapacity = queueCapacityFlag(options.queueCapacity);
  const maxTakeovers =
    options.maxTakeovers === undefined
      ? undefined
      : positiveIntegerFlag('--max-takeovers', options.maxTakeovers);
  const tls = readTls(options.tlsCert, options.tlsKey);
  const adminToken = process.env.VALKYRIE_ADMIN_TOKEN;
  // Before the store: a start refused for it leaves no new state file behind.
  if (adminToken !== undefined && adminToken !== '') checkAdminToken(adminToken);
  const dataDir = directoryOption('--data-dir', options.dataDir, 'VALKYRIE_DATA_DIR', process.cwd());
  // One server per SQLite file and per data directory (the server's start holds them): a second one
  // is refused before it opens anything when it can be.
  const lock = new ServerStoreLock(sqliteFileOf(options.db, dataDir), dataDir);
  // A start that fails (a port in use) leaves no new state behind: the next one is a first start too.
  const newState = [...newStatePaths(options.db, dataDir), ...lock.newPaths()];
  lock.beforeStore();
  const server = await startServer(newState, lock, async () => {
    const stores = await openStores(options.db, dataDir, { directoryFlag: '--data-dir' });
    return {
      stores,
      storeLock: lock,
      host: options.host,
      port,
      dataDir,
      drainTimeoutMs,
      bodyIdleTimeoutMs,
      runnerRetentionMs,
      bundleRetentionMs,
      queueCapacity,
      maxTakeovers,
      controlPlane: { leaseTtlMs, offerTtlMs },
      ...(tls === undefined ? {} : { tls }),
      ...(adminToken === undefined ? {} : { adminToken }),
    };
  });
  if (server.generatedAdminToken !== undefined) {
    const lost = await writeOrLoss(
      'stderr',
      `Created the first admin token; it is shown this once (set VALKYRIE_ADMIN_TOKEN to choose your own):\n${server.generatedAdminToken}\n`,
    );
    if (lost !== undefined) return stopWithUnshownToken(server, lost);
  }
  // Signals are taken before the line that says the server is ready: a supervisor (or a test) that
  // sends SIGTERM as soon as it reads the line could otherwise kill it unhandled, undrained, when this
  // process is preempted between the write and the listeners (seen on a loaded 2-core machine).
  const stopped = untilStopped(server, drainTimeoutMs);
  process.stdout.write(`valkyrie server listening on ${server.url}\n`);
  return stopped;
}

/**
 * Stops a server whose generated admin token could not be written (`2>/dev/full`, a reader gone): no
 * one holds it, and left active it would keep the next start from making another, a server no one
 * could manage. It is revoked, as `token create` revokes a token whose secret it lost, said on stdout
 * (stderr just failed), and the server closes before it says it listens. Exit 74 (or 141) as for any
 * lost output (closed-output.ts).
 */
async function stopWithUnshownToken(server: ValkyrieServer, lost: OutputLoss): Promise<number> {
  const token = server.generatedAdminToken ?? '';
  const id = apiTokenId(token) ?? 'unknown';
  let outcome =
    'it is revoked and the server stops: start it again with a writable stderr to get a new one, or set VALKYRIE_ADMIN_TOKEN';
  try {
    await server.withdrawGeneratedAdminToken();
  } catch (error) {
    outcome = `revoking it failed too (${messageOf(error)}) and the server stops: start it with VALKYRIE_ADMIN_TOKEN set, and revoke ${id} with valkyrie token revoke`;
  }
  process.stdout.write(
    `valkyrie server: the first admin token (id ${id}) could not be written to ${lost.output} (${lost.code}); ${outcome}\n`,
  );
  await server.close().catch((error: unknown) => say(serverFailureLine(error)));
  return lostOutputExitCode(lost, ExitCode.succeeded);
}

/**
 * Starts the server with the options `optionsOf` opens the store for, which hand `lock` over to it; if
 * either fails, removes `newState` (ValkyrieServer.start closes the store it failed with, and lets
 * `lock` go) — but not when another server holds the store: what was missing when this one looked,
 * that server made — then lets `lock` go, for a store that failed to open before the server had it.
 */
async function startServer(
  newState: readonly string[],
  lock: ServerStoreLock,
  optionsOf: () => Promise<ServerOptions>,
): Promise<ValkyrieServer> {
  try {
    return await ValkyrieServer.start(await optionsOf());
  } catch (error) {
    if (!isHeldByAnotherServer(error)) removeNewState(newState);
    lock.release();
    throw error;
  }
}

/**
 * Waits for SIGTERM, SIGINT or SIGHUP (a server started in a terminal that closed: drained as on
 * SIGTERM, not killed mid-write with its runs), counted: the first drains (server.close()), the second stops without
 * draining (server.destroy()), and the third returns at once, for a shutdown that hangs (a store that
 * stopped answering mid-write): what the store had not committed is lost as in a crash, which a store
 * survives, and the runs left unfinished are taken over at the next start. Returns the exit code: 0
 * after a shutdown that finished, the store's (69) after one that gave up on its store
 * (ServerOptions.storeGraceMs), the signal's code after the third. The lines say the drain's limit as
 * `1.5m`, not as typed (`--drain-timeout 90` is seconds); a limit of 0 is no drain, said so.
 */
function untilStopped(server: ValkyrieServer, drainTimeoutMs: number): Promise<number> {
  const drainTimeout = formatDelay(drainTimeoutMs);
  return new Promise((resolve) => {
    let signals = 0;
    let stopped = false;
    // The listeners go with the wait, so that an embedding process (a test) keeps no stale ones.
    const done = (code: number) => {
      stopped = true;
      for (const signal of stopSignals) process.off(signal, onSignal);
      resolve(code);
    };
    // Else an operator sees the server exit and takes the jobs it left on runners for lost. Once: the
    // close() a second signal cut short ends after the destroy() it made.
    const leftRunning =
      (ended: string) =>
      ({ jobsLeftRunning }: Drained) => {
        if (stopped) return;
        if (jobsLeftRunning > 0)
          say(
            `${ended} with ${counted(jobsLeftRunning, 'job')} still running on runners: they run on, and report to ` +
              'this server when it starts again on the same store (or to the replica that takes their runs over)',
          );
        done(ExitCode.succeeded);
      };
    // A store given up on (it stopped answering): said, and the store's exit code, not 0. Once: after
    // a second signal, close() and destroy() fail with the same error.
    const failed = (error: unknown) => {
      if (stopped) return;
      say(serverFailureLine(error));
      done(isValkyrieError(error) ? exitCodeFor(error.code) : ExitCode.jobFailed);
    };
    const onSignal = (signal: StopSignal) => {
      signals++;
      if (signals === 1) {
        // "draining for up to 0ms" told of a wait that never comes: close() stops at once.
        say(
          drainTimeoutMs === 0
            ? `${signal}: shutting down without draining (--drain-timeout 0): jobs running on runners are not waited for`
            : `${signal}: shutting down; draining for up to ${drainTimeout} (signal again to stop at once)`,
        );
        const ended = drainTimeoutMs === 0 ? 'the server stopped' : `the drain ended after ${drainTimeout}`;
        void server.close().then(leftRunning(ended), failed);
      } else if (signals === 2) {
        say(`${signal}: stopping without draining (signal again to exit without waiting for the store)`);
        void server.destroy().then(leftRunning('the server stopped'), failed);
      } else {
        say(`${signal}: exiting now; the runs left unfinished are taken over at the next start`);
        done(signalExitCode[signal]);
      }
    };
    for (const signal of stopSignals) process.on(signal, onSignal);
  });
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * The least --offer-ttl: time for an accept to cross a slow network and a busy runner. Shorter, and an
 * offer would expire before a runner's accept came back: every job re-offered for ever.
 */
const minOfferTtlMs = 1000;
/**
 * The least --lease-ttl: a renewal goes out every third of it. Shorter, and a runner's renewal could
 * not cross to the server in time: every job would lose its lease and be requeued, for ever.
 */
const minLeaseTtlMs = 1000;

/**
 * A duration flag's milliseconds. Text that is no duration, and one below `minMs`, are usage errors
 * saying which: `--lease-ttl 0s` is a duration, and told it is not, a user could not see what to fix.
 */
function durationFlag(flag: string, value: string, minMs: number): number {
  const ms = parseDuration(value);
  const received = JSON.stringify(value);
  if (ms === undefined)
    throw new UsageError(`${flag}: expected a duration such as 250ms, 10s or 1m, received ${received}`);
  if (ms < minMs)
    throw new UsageError(`${flag}: expected at least ${formatDelay(minMs)}, received ${received}`);
  return ms;
}

function positiveIntegerFlag(flag: string, value: string): number {
  const parsed = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1)
    throw new UsageError(`${flag} must be a positive integer, received ${JSON.stringify(value)}`);
  return parsed;
}

/** Both files or neither; read and checked here, so a bad pair is one clear line, not a TLS stack. */
function readTls(certPath: string | undefined, keyPath: string | undefined) {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined)
    throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  const read = (flag: string, given: string) => {
    const path = expandHome(given, flag);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${path}: ${readFailureText(error)}`);
    }
  };
  const cert = read('--tls-cert', certPath);
  const key = read('--tls-key', keyPath);
  tlsPairProblem(cert, key, expandHome(certPath, '--tls-cert'), expandHome(keyPath, '--tls-key'));
  const outOfDate = certificateDateProblem(cert, Date.now());
  if (outOfDate !== undefined)
    say(
      `valkyrie server: warning: the certificate in --tls-cert ${expandHome(certPath, '--tls-cert')} ${outOfDate}`,
    );
  return { cert, key };
}

/**
 * Why a certificate outside its validity dates is refused by every runner and client command, or
 * undefined. It is served all the same, as the fault may be this machine's clock; but an operator
 * is told at start, not by each runner exiting 78.
 */
function certificateDateProblem(cert: Buffer, now: number): string | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    return undefined;
  }
  const day = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const validTo = Date.parse(certificate.validTo);
  const validFrom = Date.parse(certificate.validFrom);
  if (now > validTo)
    return `expired on ${day(validTo)}: runners and client commands refuse it until it is renewed`;
  if (now < validFrom)
    return `is not valid before ${day(validFrom)} (or this machine's clock is wrong): runners and client commands refuse it until then`;
  return undefined;
}

/** Throws naming the file that is wrong, and how, rather than OpenSSL's words ('no start line'). */
function tlsPairProblem(cert: Buffer, key: Buffer, certPath: string, keyPath: string): void {
  const holds = (pem: Buffer, label: RegExp) => label.test(pem.toString('latin1'));
  const privateKey = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  const certificate = /-----BEGIN CERTIFICATE-----/;
  if (!holds(cert, certificate))
    throw new UsageError(
      holds(cert, privateKey)
        ? `--tls-cert: ${certPath} holds a private key, not a certificate: are --tls-cert and --tls-key swapped?`
        : `--tls-cert: ${certPath} holds no PEM certificate`,
    );
  if (!holds(key, privateKey))
    throw new UsageError(
      holds(key, certificate)
        ? `--tls-key: ${keyPath} holds a certificate, not a private key: are --tls-cert and --tls-key swapped?`
        : `--tls-key: ${keyPath} holds no PEM private key`,
    );
  let certificateKey: KeyObject;
  try {
    certificateKey = new X509Certificate(cert).publicKey;
  } catch (error) {
    throw new UsageError(`--tls-cert: ${certPath} holds no usable PEM certificate (${messageOf(error)})`);
  }
  let ownKey: KeyObject;
  try {
    ownKey = createPrivateKey(key);
  } catch (error) {
    throw new UsageError(`--tls-key: ${keyPath} holds no usable PEM private key (${messageOf(error)})`);
  }
  if (!createPublicKey(ownKey).equals(certificateKey))
    throw new UsageError(`--tls-key: the key in ${keyPath} is not the key of the certificate in ${certPath}`);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new UsageError(
      `--tls-cert/--tls-key: not a usable PEM certificate and matching key (${messageOf(error)})`,
    );
  }
}
