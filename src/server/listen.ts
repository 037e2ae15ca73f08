import type { FastifyInstance } from 'fastify';
import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';

/**
 * Listens on `host:port`; a failure closes `app` and is VK_SERVER_START with what went wrong in the
 * words of the flags to change (a port in use, an address not of this machine, a privileged port).
 */
export async function listen(
  app: FastifyInstance,
  { host, port }: { host: string; port: number },
): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${host}:${port}`;
    const reason =
      code === 'EADDRINUSE'
        ? `${where} is already in use; pick another --port or stop the other process`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? `${host} is not an address of this machine`
          : code === 'EACCES'
            ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
            : `cannot listen on ${where}: ${messageOf(error)}`;
    await app.close().catch(() => undefined);
    throw new ValkyrieError('VK_SERVER_START', reason);
  }
}
