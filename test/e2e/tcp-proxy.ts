import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy that stands in for a network between a runner and the server. It forwards
 * every connection byte for byte, and can be told to behave like a proxy that blocks WebSockets:
 * `blockWebSockets()` cuts the upgraded connections open now and refuses new upgrade requests, while
 * plain HTTP keeps flowing; `retarget()` sends new connections elsewhere; `holdReplies()` stops
 * passing on what the server sends, as replies lost with a server that dies before they leave it;
 * `holdNextUpgrade()` keeps an upgrade request from the server until the test lets it through.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly upgraded = new Set<Socket>();
  private readonly all = new Set<Socket>();
  /** Each connection's server side, with the client it forwards to. */
  private readonly replies = new Map<Socket, Socket>();
  private blocking = false;
  private replyDelayMs = 0;
  private upgradeHold: ((release: () => void) => void) | undefined;

  private constructor(private target: { host: string; port: number }) {
    this.server = createServer((client) => this.forward(client));
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** Cuts the WebSocket connections open now and refuses new ones; HTTP requests still pass. */
  blockWebSockets(): void {
    this.blocking = true;
    for (const socket of this.upgraded) socket.destroy();
  }

  allowWebSockets(): void {
    this.blocking = false;
  }

  /** New connections go to `target` from now on, as a load balancer moves to another replica. */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  /**
   * What the servers of the connections open now send is held from now on, never passed on: their
   * clients keep sending, and the server takes it, but hears nothing back.
   */
  holdReplies(): void {
    for (const [upstream, client] of this.replies) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  /**
   * On the WebSocket connections opened from now on, what the server sends after its upgrade answer
   * reaches the client `ms` later, as over a slow link: the connection opens, its messages lag.
   */
  delayReplies(ms: number): void {
    this.replyDelayMs = ms;
  }

  /**
   * The next WebSocket upgrade request is held here, not passed on to the server, until the function
   * this resolves with (once the request came) is called: the test decides when the server answers.
   */
  holdNextUpgrade(): Promise<() => void> {
    return new Promise((held) => {
      this.upgradeHold = held;
    });
  }

  async close(): Promise<void> {
    for (const socket of this.all) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket): void {
    this.all.add(client);
    client.once('close', () => this.all.delete(client));
    // The first bytes of a connection carry its request line and headers: enough to tell an upgrade.
    client.once('data', (first: Buffer) => {
      const isUpgrade = /^upgrade:\s*websocket/im.test(first.toString('latin1'));
      if (isUpgrade && this.blocking) {
        client.destroy();
        return;
      }
      const hold = isUpgrade ? this.upgradeHold : undefined;
      if (hold === undefined) return this.pass(client, first, isUpgrade);
      this.upgradeHold = undefined;
      client.pause();
      hold(() => {
        if (!client.destroyed) this.pass(client, first, isUpgrade);
      });
    });
  }

  /** Connects `client` to the target and forwards both ways, starting with its `first` bytes. */
  private pass(client: Socket, first: Buffer, isUpgrade: boolean): void {
    const upstream = connect(this.target.port, this.target.host);
    this.all.add(upstream);
    const pair = [client, upstream];
    if (isUpgrade) for (const socket of pair) this.upgraded.add(socket);
    this.replies.set(upstream, client);
    const teardown = () => {
      this.replies.delete(upstream);
      for (const socket of pair) {
        this.upgraded.delete(socket);
        this.all.delete(socket);
        socket.destroy();
      }
    };
    client.on('close', teardown).on('error', teardown);
    upstream.on('close', teardown).on('error', teardown);
    upstream.write(first);
    client.pipe(upstream);
    if (isUpgrade && this.replyDelayMs > 0) this.lag(upstream, client, this.replyDelayMs);
    else upstream.pipe(client);
  }

  /** Passes the upgrade answer (the first chunk) on at once, and each later chunk `ms` after it came. */
  private lag(upstream: Socket, client: Socket, ms: number): void {
    let first = true;
    upstream.on('data', (chunk: Buffer) => {
      if (first) client.write(chunk);
      else setTimeout(() => client.destroyed || client.write(chunk), ms);
      first = false;
    });
  }
}
