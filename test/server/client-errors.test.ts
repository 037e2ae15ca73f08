import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

/** Writes `text` to the server as it is and reads the answer until the server closes the connection. */
function sendRaw(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** An HTTP answer's status, lower-cased headers and body, from its text. */
function parseAnswer(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown };
}

it("answers a request Node's HTTP parser cannot read in the API's error shape, with its code", async () => {
  const { server } = await startTestServer();
  const cases: [string, string, number, string, string][] = [
    [
      'headers over the limit',
      `GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'VK_HEADERS_TOO_LARGE',
      "the request headers exceed the server's limit of 16384 bytes",
    ],
    [
      'a request line that is not HTTP',
      'BLAH\r\n\r\n',
      400,
      'VK_INVALID_REQUEST',
      'the request is not valid HTTP',
    ],
    [
      'a Content-Length that is not a number',
      'POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      400,
      'VK_INVALID_REQUEST',
      'the request is not valid HTTP',
    ],
  ];
  for (const [what, text, status, code, message] of cases) {
    const answer = parseAnswer(await sendRaw(server.url, text));
    expect(answer, what).toMatchObject({
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-valkyrie-error': code },
      body: { code, message: expect.stringContaining(message) },
    });
    expect(Object.keys(answer.body as object).sort(), what).toEqual(['code', 'message']);
  }
});
