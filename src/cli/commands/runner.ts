import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { counted } from '../../core/counted.js';
import { formatDelay } from '../../core/retry-delay.js';
import { credentialsFileName } from '../../core/runner-credentials-file.js';
import type { RunnerMode } from '../../core/runner-mode.js';
import { holdStepOutput, warmUpSpawner } from '../../executors/shell/index.js';
import { type AutoTransport, connectAuto } from '../../protocol/auto.js';
import { runnerDecoder } from '../../protocol/frame.js';
import {
  type ControlMessage,
  carriedToNextSession,
  type RunnerCapabilities,
  type RunnerInfo,
  type RunnerMessage,
} from '../../protocol/messages.js';
import { runnerSendLane } from '../../protocol/runner-lanes.js';
import { describeCertificateFailure } from '../../protocol/tls-certificate.js';
import type { CloseInfo } from '../../protocol/transport-end.js';
import { RunnerAgent } from '../../runner/agent.js';
import { describeHost, runnerLabels } from '../../runner/host.js';
import { claimJobsDir, sweepJobsDir } from '../../runner/jobs-dir-claim.js';
import { reportingShellExecutors } from '../../runner/orphan-report.js';
import { type RunnerCredentials, revokeOwnCredentials } from '../../runner/registration.js';
import { inheritedEnvironment } from '../../runner/step-environment.js';
import { unsentLinesWarning } from '../../runner/unsent-lines-warning.js';
import {
  acquireWorkDirLock,
  type LockHolder,
  lockFileName,
  type WorkDirLock,
} from '../../runner/work-dir-lock.js';
import { CapabilityDetector } from '../capability-detector.js';
import { ConnectionLines, serverClosedLine } from '../connection-lines.js';
import { serverClosedJobReason } from '../credential-refusal.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { AutoStop } from '../runner-auto-stop.js';
import { bundleWorkspace } from '../runner-bundle-workspace.js';
import {
  certificateRefused,
  credentialRefused,
  credentialSource,
  credentialsFor,
  storedRunnerName,
} from '../runner-credentials.js';
import { runnerJobLine } from '../runner-job-lines.js';
import { complain, say } from '../runner-lines.js';
import {
  hostRunnerName,
  protocolUrls,
  type RunnerCommandOptions,
  type RunnerSettings,
  resolveRunnerSettings,
} from '../runner-options.js';
import { runnerShutdownReason, Shutdown, shutdownLine } from '../runner-shutdown.js';
import { createWorkDir, removeMade } from '../runner-work-dir.js';

/** How long a stopping runner waits for the control plane to record that it stopped. */
const deregisterAnswerMs = 5_000;

/**
 * `valkyrie runner`: registers with the control plane once (credentials kept in the work dir), then
 * connects (WebSocket, falling back to HTTP long-poll) and runs the jobs it is offered with the shell
 * executor, each in its own directory. SIGTERM or Ctrl-C drains (no new jobs, running ones finish,
 * exit 0); a second one cancels the running jobs gracefully; a third kills them.
 */
export async function runnerCommand(options: RunnerCommandOptions): Promise<number> {
  const settings = resolveRunnerSettings(options, process.env, process.cwd());
  warmUpSpawner();
  // Asked before anything is made (credentialSource). Without --name, the name it registered under,
  // as GitHub's and GitLab's runners keep theirs.
  const source = credentialSource(settings);
  // Before this start creates one: a work dir a runner used already (claimJobsDir).
  const usedBefore = existsSync(join(settings.workDir, credentialsFileName));
  const host = describeHost(
    settings.name ??
      ('stored' in source ? storedRunnerName(settings, source.stored) : undefined) ??
      hostRunnerName(hostname(), complain),
  );
  const info: RunnerInfo = {
    name: host.name,
    labels: runnerLabels(host, settings.labels, { local: false, hosted: settings.hostedLabels }),
    capacity: settings.capacity,
  };
  const shutdown = new Shutdown();
  shutdown.listen();
  const autoStop = new AutoStop(settings);
  // The transports' timers (reconnect backoff, keep-alive) do not keep the process alive; while it
  // waits for the server, an idle runner would otherwise just exit.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  // Stopped when the command ends early (refused, interrupted), so no probe holds the exit up.
  const probing = new AbortController();
  let lock: WorkDirLock | undefined;
  // What this start made in the work dir; taken back unless it gets a credential (refused, stopped
  // while registering), so that a runner that never registered leaves the work dir as it found it.
  const made: string[] = [];
  let registered = false;
  let connection: AutoTransport<RunnerMessage, ControlMessage> | undefined;
  // One for the runner's life, on stdout with its other progress: a server that is down when it
  // starts is told as an outage of a connected runner is, in the same words and rhythm.
  const connectionLines = new ConnectionLines(settings.server, say, () => connection?.kind);
  try {
    made.push(...createWorkDir(settings.workDir));
    const locked = acquireWorkDirLock(settings.workDir);
    if (locked.kind === 'held') return refuseHeldWorkDir(settings.workDir, locked.holder);
    lock = locked.lock;
    if (locked.tookOverFrom !== undefined)
      complain(
        `took over ${locked.lock.file} from pid ${locked.tookOverFrom.pid}, which is no longer running`,
      );
    made.push(...claimJobs(settings.workDir, usedBefore));
    // Once the work dir exists (createWorkDir): free disk is measured on it.
    const detector = new CapabilityDetector({ workDir: settings.workDir, signal: probing.signal }, complain);
    const detecting = detector.detect().catch(() => undefined);
    // The idle clock runs from the start: a runner that cannot reach its server runs no job either,
    // and an autoscaled machine whose server is gone should still go away.
    autoStop.start();
    const connecting = new AbortController();
    const stopConnecting = () => connecting.abort();
    shutdown.signal.addEventListener('abort', stopConnecting, { once: true });
    if (shutdown.signal.aborted) stopConnecting();
    // Only until connected: the signal then governs the connection's own reconnects (connectAuto).
    let serving = false;
    void autoStop.requested.then(() => {
      if (!serving) stopConnecting();
    });
    // A signal while it registers or connects (retrying a server that is down) stops it at once; said,
    // as a drain is, or its output would end on a retry line, as if it were still trying.
    const stoppedEarly = () =>
      say(`stopped (${shutdown.last ?? 'SIGTERM'} while connecting to ${settings.server})`);
    const early = (code: number) => {
      if (shutdown.stopping) stoppedEarly();
      else if (autoStop.reason !== undefined) say(`${autoStop.reason}: stopping`);
      return code;
    };
    const credentials = await credentialsFor(settings, info, connectionLines, connecting.signal);
    if (typeof credentials === 'number') return early(credentials);
    registered = true;
    // Directories a killed runner left behind; nothing runs in them now.
    await sweepJobsDir(join(settings.workDir, 'jobs'), complain);
    const transport = await connect(settings, credentials, connectionLines, connecting.signal);
    if (typeof transport === 'number') return early(transport);
    connection = transport;
    serving = true;
    shutdown.connected();
    if (shutdown.stopping) {
      await closeTransport(transport);
      stoppedEarly();
      return ExitCode.succeeded;
    }
    const capabilities = await detecting;
    return await serve(
      settings,
      info,
      credentials,
      transport,
      capabilities,
      connectionLines,
      shutdown,
      autoStop,
      detector,
    );
  } finally {
    connectionLines.close();
    autoStop.close();
    probing.abort();
    clearInterval(keepAlive);
    shutdown.unlisten();
    lock?.release();
    if (!registered) removeMade(made);
  }
}

/**
 * `<work-dir>/jobs`, whose entries the runner removes at start, must be its own (claimJobsDir).
 * Returns what the claim made there.
 */
function claimJobs(workDir: string, usedBefore: boolean): readonly string[] {
  const jobs = join(workDir, 'jobs');
  const claim = claimJobsDir(jobs, usedBefore);
  if (claim.kind === 'foreign')
    throw new UsageError(
      `--work-dir: ${jobs} holds ${JSON.stringify(claim.entry)}, which no runner made there: a runner removes ` +
        `what is in its jobs directory, so give it a work dir of its own (or empty ${jobs})`,
    );
  if (claim.kind === 'unusable') throw new UsageError(`--work-dir: cannot use ${jobs} (${claim.why})`);
  return claim.made;
}

/** Another live runner uses the work dir: one line, exit 73, and the dir is left as it is. */
function refuseHeldWorkDir(workDir: string, holder: LockHolder): number {
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  complain(
    `the work dir ${workDir} is in use by another runner (pid ${holder.pid}${where}, since ${holder.since}); ` +
      `stop it, or give this one its own --work-dir (lock: ${join(workDir, lockFileName)})`,
  );
  return ExitCode.workDirInUse;
}

/**
 * Closes the connection and waits up to 2 s for what close() leaves running (a long-poll session's
 * last sends and its deletion): the process exits once this command returns (bin/valkyrie.js).
 */
async function closeTransport(transport: AutoTransport<RunnerMessage, ControlMessage>): Promise<void> {
  transport.close('runner stopped');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([transport.whenEnded(), new Promise((done) => (timer = setTimeout(done, 2_000)))]);
  clearTimeout(timer);
}

/** Connects with the stored credential, trying again with backoff while the server cannot be reached. */
async function connect(
  settings: RunnerSettings,
  credentials: RunnerCredentials,
  lines: ConnectionLines,
  signal: AbortSignal,
): Promise<AutoTransport<RunnerMessage, ControlMessage> | number> {
  lines.connecting();
  const only =
    settings.protocol === 'ws' ? 'websocket' : settings.protocol === 'http' ? 'long-poll' : undefined;
  const result = await connectAuto<RunnerMessage, ControlMessage>({
    ...protocolUrls(settings.server),
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${credentials.credential}` },
    carryOver: carriedToNextSession,
    laneOf: runnerSendLane,
    onDropped: unsentLinesWarning(complain),
    // Its first connect's rounds as well as those of each reconnect, told as one outage each.
    onUnreachable: (round) => lines.unreachable(round),
    signal,
    ...(only === undefined ? {} : { only }),
  });
  if (result.kind === 'connected') return result.transport;
  if (result.kind === 'unreachable') return ExitCode.succeeded;
  if (result.kind === 'untrusted')
    return certificateRefused(describeCertificateFailure(settings.server, result.failure));
  return credentialRefused(settings, `${result.status} ${result.code}`, result.reason);
}

async function serve(
  settings: RunnerSettings,
  info: RunnerInfo,
  credentials: RunnerCredentials,
  transport: AutoTransport<RunnerMessage, ControlMessage>,
  capabilities: RunnerCapabilities | undefined,
  connectionLines: ConnectionLines,
  shutdown: Shutdown,
  autoStop: AutoStop,
  /** Its signal is aborted once the command ends: a refresh still probing then kills its probes' process groups. */
  detector: CapabilityDetector,
): Promise<number> {
  // A workspace download that met an untrusted certificate: its job fails with the line, the runner stops.
  let certificateProblem: string | undefined;
  let stopForCertificate = () => {};
  const certificateFailed = new Promise<void>((resolve) => {
    stopForCertificate = resolve;
  });
  // The first answer to its register, or what ends the wait for it (a loss, the connection's end,
  // 5 s): an idle stop that comes first is told after the start line, not before it.
  let answered = () => {};
  const firstAnswer = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const answerWait = setTimeout(answered, deregisterAnswerMs);
  answerWait.unref();
  const agent = new RunnerAgent(transport, {
    info,
    host: describeHost(info.name),
    createExecutor: reportingShellExecutors(complain),
    tempRoot: join(settings.workDir, 'tmp'),
    workDir: settings.workDir,
    workspaceFor: bundleWorkspace(settings.server, (line) => {
      certificateProblem ??= line;
      stopForCertificate();
    }),
    baseEnv: inheritedEnvironment(process.env),
    switches: transport,
    logLimit: settings.logLimit,
    holdOutput: holdStepOutput,
    hooks: settings.hooks,
    ...(capabilities === undefined ? {} : { capabilities }),
    // Only now, not as the session opens: a script that reads the line and lists the runners next
    // must find it connected (ConnectionLines.registered).
    onRegistered: () => {
      answered();
      connectionLines.registered(
        () =>
          `${info.name} connected to ${settings.server} over ${transport.kind ?? 'an unknown transport'} as ${credentials.runnerId}; ` +
          `capacity ${info.capacity}, labels ${info.labels.join(',')}${autoStopNote(settings)}`,
      );
    },
    onMode: (mode, note) =>
      say(modeLine(mode, credentials.runnerId, note, shutdown.stopping || autoStop.reason !== undefined)),
    onRunning: (running) => autoStop.running(running),
    onJob: (event) => say(runnerJobLine(event)),
  });
  let closedByServer: CloseInfo | undefined;
  const serverClosed = new Promise<void>((resolve) =>
    transport.onCloseInfo((info) => {
      if (!shutdown.stopping) closedByServer = info;
      answered();
      resolve();
    }),
  );
  // Set once it deregisters: until when it waits for a server to take the completions it holds.
  let holdUntil: number | undefined;
  let toldHeld = false;
  const tellHeld = () => {
    const held = agent.resultsAwaitingServer;
    if (holdUntil === undefined || toldHeld || held === 0) return;
    toldHeld = true;
    say(
      `waiting up to ${formatDelay(Math.max(0, holdUntil - Date.now()))} for ${settings.server} to take the results of ` +
        `${counted(held, 'finished job')} it may not have received: without them it would run those jobs again (signal again to stop anyway)`,
    );
  };
  transport.onLost((loss) => {
    answered();
    connectionLines.lost(loss);
    tellHeld();
  });
  transport.onSwitch((change) => connectionLines.switched(change));
  agent.start();
  const autoStopped = autoStop.requested.then(async (reason) => {
    await firstAnswer;
    const running = agent.running;
    say(
      `${reason}: stopping${running > 0 ? ` once its ${counted(running, 'running job')} end${running === 1 ? 's' : ''}` : ''}`,
    );
  });
  const refresh = setInterval(() => {
    void detector
      .detect()
      // Nothing from one cut short by the stop, or stale (a later refresh ended first): not sent.
      .then((fresh) => (fresh === undefined ? undefined : agent.updateCapabilities(fresh)))
      .catch(() => undefined);
  }, settings.capabilityRefreshMs);
  refresh.unref();
  // Aborted by a signal that comes while it deregisters: it stops waiting for the server's answer.
  const holding = new AbortController();
  shutdown.onEscalate((level, signal) => {
    if (holdUntil !== undefined) return holding.abort();
    const line = shutdownLine(level, agent.running, agent.accepted);
    if (line !== undefined) say(line);
    if (level >= 2) agent.cancelAll(runnerShutdownReason(level, signal), level >= 3);
  });
  try {
    await Promise.race([shutdown.requested, serverClosed, certificateFailed, autoStopped]);
    autoStop.close();
    if (certificateProblem !== undefined) {
      agent.cancelAll('the runner is stopping: the server has an untrusted TLS certificate', true);
      await agent.drain('the server has an untrusted TLS certificate');
      transport.close('untrusted TLS certificate');
      return certificateRefused(certificateProblem);
    }
    if (closedByServer !== undefined) {
      // Its jobs are killed either way; the server requeues them (at once for a revoked credential,
      // else as their leases run out).
      agent.cancelAll(serverClosedJobReason(closedByServer), true);
      await agent.drain('connection closed');
      if (closedByServer.kind === 'refused')
        return credentialRefused(settings, closedByServer.code, closedByServer.reason);
      if (closedByServer.kind === 'untrusted')
        return certificateRefused(describeCertificateFailure(settings.server, closedByServer.failure));
      complain(serverClosedLine(closedByServer.reason, join(settings.workDir, credentialsFileName)));
      return ExitCode.jobFailed;
    }
    await agent.drain(autoStop.reason ?? 'the runner is stopping');
    // Bounded, by a lease TTL plus the usual wait for the answer: a server gone for good (moved,
    // stopped first at host shutdown) must not keep the runner forever — also when the session that
    // carried the deregister is lost before the answer, with completions still in doubt, which
    // pauses the answer's own wait until a session is up again.
    const holdMs = (agent.resultsTtlMs ?? 0) + deregisterAnswerMs;
    holdUntil = Date.now() + holdMs;
    // Now, while no session is up; else when the one that carries the deregister is lost.
    tellHeld();
    // A timer of its own, not AbortSignal.timeout joined by AbortSignal.any: on Node 20 nothing holds
    // the timeout's signal there, and once collected it never fires (the runner waited forever).
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      holding.abort();
    }, holdMs);
    const end = await agent.deregister('the runner is stopping', deregisterAnswerMs, holding.signal);
    clearTimeout(deadline);
    const unsent = agent.resultsAwaitingServer;
    if (end === 'server gone')
      complain(`${settings.server} is shutting down; it will list this runner as offline`);
    else if (end === 'unanswered' && unsent > 0)
      complain(
        `stopped without handing the results of ${counted(unsent, 'finished job')} to ${settings.server}` +
          `${timedOut ? ` (no answer within ${formatDelay(holdMs)})` : ''}; ` +
          'it will run those jobs again when their leases expire',
      );
    else if (end === 'unanswered')
      complain(`${settings.server} did not confirm the deregistration; it will list this runner as offline`);
    await closeTransport(transport);
    connectionLines.close();
    if (autoStop.tookItsJob) {
      // As GitHub removes an ephemeral runner: a job that read runner.json cannot go on as this runner.
      const failed = await revokeOwnCredentials(settings.workDir, credentials);
      if (failed === undefined) say(`revoked its credential ${credentials.runnerId} (--ephemeral)`);
      else
        complain(
          `could not revoke its credential ${credentials.runnerId} (--ephemeral): ${failed}; revoke it with valkyrie token revoke ${credentials.runnerId}`,
        );
    }
    say('stopped');
    return shutdown.level < 2 ? ExitCode.succeeded : shutdown.exitCode;
  } finally {
    clearInterval(refresh);
    clearTimeout(answerWait);
  }
}

/** What the connected line adds about stopping by itself. */
function autoStopNote({ ephemeral, idleTimeoutMs }: RunnerSettings): string {
  const notes = [
    ...(ephemeral ? ['ephemeral: stops after one job'] : []),
    ...(idleTimeoutMs === undefined ? [] : [`stops after ${formatDelay(idleTimeoutMs)} without a job`]),
  ];
  return notes.length === 0 ? '' : `; ${notes.join(', ')}`;
}

/**
 * The operator's mode, when the server tells it at connect (not `online`) or as it changes. `note` is
 * the server's to say: quoted as JSON, so that no character of it acts on the terminal. A runner that
 * is `stopping` on its own (a signal, --idle-timeout, --ephemeral) takes no new job in any mode, so
 * neither a resume nor `valkyrie runners resume` would give it one: its line says so instead.
 */
function modeLine(mode: RunnerMode, runnerId: string, note: string | undefined, stopping: boolean): string {
  const why = note === undefined ? '' : `; the operator's note: ${JSON.stringify(note)}`;
  const by = mode === 'online' ? 'resumed by an operator' : 'set by an operator';
  if (stopping)
    return `mode: ${mode} (${by}; this runner is stopping all the same: it takes no new jobs)${why}`;
  if (mode === 'online') return `mode: online (${by}: it takes jobs again)`;
  return `mode: ${mode} (${by}: it takes no new jobs; valkyrie runners resume ${runnerId} to take jobs again)${why}`;
}
