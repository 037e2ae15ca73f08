// The parent's side of sim-runners.js: forks it, starts it, and turns its IPC messages into promises.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockOffset } from '../lib/wall-clock.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'sim-runners.js');

/**
 * Forks the simulated runners and sends them `options` (see sim-runners.js). `ready` resolves with
 * the child's `ready` message once every runner is registered; `failed` rejects when the child
 * reports an error or exits early. `onOffer` sees each reported offer.
 *
 * The times the child reports are on its wall clock (performance.timeOrigin + now()), which can
 * differ from this process's: each process fixes its timeOrigin from the system clock when it
 * starts, so a clock step or slew between the two starts puts them apart (seen here: 0.8 s, which
 * turned 2 ms selections into 840 ms and offers after the run's end). So the offset is measured,
 * once ready and at every `expect`, and taken off every time the child reports.
 */
export function startSimulatedRunners(options) {
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const offerListeners = [];
  let offersReceivedAt;
  let offersReceived;
  const resetOffersReceived = () => {
    offersReceived = new Promise((resolve) => {
      offersReceivedAt = resolve;
    });
  };
  resetOffersReceived();
  let expecting;
  let clockRead;
  /** The child's clock minus this process's, in ms. */
  let offsetMs = 0;
  let stopped = false;
  let resolveReady;
  let rejectFailed;
  const ready = new Promise((resolve) => {
    resolveReady = resolve;
  });
  const failed = new Promise((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => undefined);
  child.on('message', (message) => {
    if (message.event === 'ready') resolveReady(message);
    else if (message.event === 'offers-received') offersReceivedAt(message.at - offsetMs);
    else if (message.event === 'expecting') expecting?.();
    else if (message.event === 'clock') clockRead?.(message.at);
    else if (message.event === 'offer')
      for (const listener of offerListeners) listener({ ...message, at: message.at - offsetMs });
    else if (message.event === 'error') rejectFailed(new Error(`simulated runners: ${message.message}`));
  });
  child.on('exit', (code, signal) => {
    if (!stopped) rejectFailed(new Error(`simulated runners exited (${code ?? signal})`));
  });
  const measureOffset = async () => {
    const ask = () =>
      Promise.race([
        new Promise((resolve) => {
          clockRead = resolve;
          child.send({ cmd: 'clock' });
        }),
        failed,
      ]);
    offsetMs = await clockOffset(ask);
  };
  child.send({ cmd: 'start', ...options });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const readyAndTimed = ready.then(async (message) => {
    await measureOffset();
    return message;
  });
  return {
    pid: child.pid,
    ready: Promise.race([readyAndTimed, failed]),
    failed,
    /** When the `expectOffers`-th offer reached the runners, on this process's clock (performance.timeOrigin + now()). */
    get offersReceived() {
      return Promise.race([offersReceived, failed]);
    },
    /** Counts offers from zero again, toward `offers` (resolves once the child has started counting). */
    async expect(offers) {
      resetOffersReceived();
      const started = new Promise((resolve) => {
        expecting = resolve;
      });
      child.send({ cmd: 'expect', offers });
      await Promise.race([started, failed]);
      await measureOffset();
    },
    onOffer: (listener) => offerListeners.push(listener),
    async stop() {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ cmd: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
