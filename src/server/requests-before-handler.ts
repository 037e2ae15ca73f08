import type { FastifyReply } from 'fastify';
import { sendApiError, shuttingDown } from './api-error.js';

/** How long refuseAll() waits for its answers to be handed on before the connections are closed. */
const answerFlushMs = 1_000;

/**
 * The API requests routed whose handler has not started: most still wait on the store in their token
 * check (registerRoutes), some for their body. The HTTP server's close at destroy() would end their
 * connections unanswered, which a client cannot tell from a server that failed; refuseAll() answers
 * them `503 VK_SHUTTING_DOWN` first, as a request that came after is answered. Only these: nothing of
 * their route has run, so asking again does nothing twice (the client commands do: retry-wait.ts),
 * and none of it runs once their check comes back (handlerStarted() says false: `reply.sent` holds
 * only once the 503 has left the onSend hook). A request in its handler may have done its work
 * already, and is left to finish, or be cut, as before.
 * Lifecycle: enter() as a request is routed, checkFailed() as its check fails, handlerStarted() as
 * its handler starts (an answer before that, a 400 or 413, drops it as it closes); refuseAll() once,
 * at destroy(), before the HTTP server closes; a request routed after it is refused at once.
 */
export class RequestsBeforeHandler {
  private readonly waiting = new Set<FastifyReply>();
  /**
   * Those refuseAll() answered. Fastify's `reply.sent` holds only once the response has ended, after
   * the app's async onSend hook: a check that comes back before then would find the reply unsent.
   */
  private readonly answered = new WeakSet<FastifyReply>();
  private refused = false;

  /** Throws 503 VK_SHUTTING_DOWN after refuseAll(): its answer would have no connection left to go on. */
  enter(reply: FastifyReply): void {
    if (this.refused) throw shuttingDown();
    this.waiting.add(reply);
    // 'close' comes once the answer went out or the connection ended, whatever answered it.
    reply.raw.once('close', () => this.waiting.delete(reply));
  }

  /** False for a request refuseAll() answered: its handler must run nothing. */
  handlerStarted(reply: FastifyReply): boolean {
    this.waiting.delete(reply);
    return !this.answered.has(reply);
  }

  /**
   * Its token check failed: false if refuseAll() answered it already, else its 401 or 403 is sent,
   * and refuseAll() must not answer it too (Fastify's `reply.sent` says nothing of an answer still
   * in the app's onSend hook: both would go, the 503's body under the other's status).
   */
  checkFailed(reply: FastifyReply): boolean {
    return this.handlerStarted(reply);
  }

  /**
   * Answers every request waiting 503 VK_SHUTTING_DOWN (Retry-After: 5), with `Connection: close`
   * as its connection ends next; resolves once each answer was handed on, so that the HTTP server's
   * close does not drop it with the socket, or after a second: a client that reads no answer does not
   * hold the shutdown. Idempotent.
   */
  async refuseAll(): Promise<void> {
    this.refused = true;
    const sent: Promise<void>[] = [];
    for (const reply of this.waiting) {
      // Already answered, or taken over by code of its own: not ours to answer.
      if (reply.sent || reply.raw.headersSent) continue;
      sent.push(new Promise((resolve) => reply.raw.once('close', () => resolve())));
      this.answered.add(reply);
      sendApiError(reply.header('connection', 'close'), shuttingDown());
    }
    this.waiting.clear();
    if (sent.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const given = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, answerFlushMs);
    });
    await Promise.race([Promise.all(sent), given]);
    clearTimeout(timer);
  }
}
