import { describe, expect, it } from 'vitest';
import { errorBody, parseErrorBody } from '../../src/protocol/handshake.js';

const pythonPage = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
    </body>
</html>
`;

describe('an error answer that is not ours, as one line', () => {
  it('reads ours as its code and message', () => {
    expect(parseErrorBody(errorBody('VK_FORBIDDEN', 'no'), 403)).toEqual({
      code: 'VK_FORBIDDEN',
      message: 'no',
      ours: true,
    });
  });

  it("names an HTML error page (a proxy's, another server's) by its title, on one line", () => {
    expect(parseErrorBody(pythonPage, 501)).toEqual({
      code: 'HTTP_501',
      message: 'HTTP 501: Error response (an HTML page, not a Valkyrie API answer)',
      ours: false,
    });
    const nginx =
      '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';
    expect(parseErrorBody(nginx, 502).message).toBe(
      'HTTP 502: 502 Bad Gateway (an HTML page, not a Valkyrie API answer)',
    );
  });

  it('keeps other text to one line of at most 200 characters, its control characters escaped', () => {
    expect(parseErrorBody('upstream\n  timed out\u001b[2J', 504).message).toBe(
      'HTTP 504: upstream timed out\\x1b[2J',
    );
    expect(parseErrorBody('x'.repeat(300), 500).message).toBe(`HTTP 500: ${'x'.repeat(200)}…`);
    expect(parseErrorBody('', 503).message).toBe('HTTP 503: no body');
  });
});
