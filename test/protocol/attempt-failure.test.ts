import { describe, expect, it } from 'vitest';
import { type AttemptFailure, mostTelling, networkFailure } from '../../src/protocol/attempt-failure.js';

describe('mostTelling', () => {
  it("tells a proxy's 502 for the server behind it over the 403 it gives every WebSocket upgrade", () => {
    // A proxy that forbids WebSockets, while the server behind it restarts.
    const forbidden: AttemptFailure = { kind: 'answered', status: 403 };
    const badGateway: AttemptFailure = { kind: 'answered', status: 502 };
    expect(mostTelling([forbidden, badGateway])).toEqual(badGateway);
    expect(mostTelling([badGateway, forbidden])).toEqual(badGateway);
  });

  it('tells an answer over a failed handshake, and either over no connection', () => {
    const tls: AttemptFailure = { kind: 'tls', plainHttp: true };
    const forbidden: AttemptFailure = { kind: 'answered', status: 403 };
    expect(mostTelling([networkFailure, tls])).toEqual(tls);
    expect(mostTelling([tls, forbidden])).toEqual(forbidden);
    expect(mostTelling([networkFailure, networkFailure])).toEqual(networkFailure);
  });
});
