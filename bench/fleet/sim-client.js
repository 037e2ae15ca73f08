// The parent's side of sim-runners.js: forks it, starts it, and turns its IPC messages into promises.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'sim-runners.js');

/**
 * Forks the simulated runners and sends them `options` (see sim-runners.js). `ready` resolves with
 * the child's `ready` message once every runner is registered; `failed` rejects when the child
 * reports an error or exits early. `onOffer` sees each reported offer.
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
    else if (message.event === 'offers-received') offersReceivedAt(message.at);
    else if (message.event === 'expecting') expecting?.();
    else if (message.event === 'offer') for (const listener of offerListeners) listener(message);
    else if (message.event === 'error') rejectFailed(new Error(`simulated runners: ${message.message}`));
  });
  child.on('exit', (code, signal) => {
    if (!stopped) rejectFailed(new Error(`simulated runners exited (${code ?? signal})`));
  });
  child.send({ cmd: 'start', ...options });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    pid: child.pid,
    ready: Promise.race([ready, failed]),
    failed,
    /** When the `expectOffers`-th offer reached the runners (performance.timeOrigin + now()). */
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
