/**
 * Hostile HTTP against the real `layerbench serve` process: raw requests over TCP that a browser
 * would never send (or that another local page could make it send). After each, the server must
 * still answer the token URL; its peak memory stays under a stated bound.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersTokenUrl, rawExchange, startServeProcess, statusOf, type ServeProcess } from './test-wire';

/** Node + tsx + the services idle near 100 MiB (about 105 MiB measured after this suite); nothing here may grow it much. */
const PEAK_RSS_BOUND = 256 * 1024 * 1024;

let server: ServeProcess;

beforeAll(async () => {
  server = await startServeProcess();
  const outside = join(server.dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'outside the renderer');
  symlinkSync(join(outside, 'secret.txt'), join(server.dir, 'renderer', 'leak.txt'));
  symlinkSync(outside, join(server.dir, 'renderer', 'assets'));
}, 90_000);
afterAll(() => server.stop());

const get = (target: string, headers: string[] = []) =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;
const upgrade = (target: string, headers: string[] = []) =>
  get(target, ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', `Origin: ${server.origin}`, ...headers]);

/** [what, raw request, the status it must get (null: the server may just close)] */
const hostile = (): [string, string | Buffer, number | null][] => {
  const t = `token=${server.token}`;
  const cookie = (value: string) => `Cookie: layerbench_token_${server.port}=${value}`;
  return [
    ['absolute-form URL the URL parser rejects', get(`http://[bad/?${t}`), 400],
    ['absolute-form URL with an out-of-range port', get(`http://127.0.0.1:99999/?${t}`), 400],
    ['upgrade with an absolute-form URL the URL parser rejects', upgrade(`http://[bad/api`, [cookie(server.token)]), 400],
    ['cookie that is not valid percent-encoding', get('/', [cookie('%E0%A4%A')]), 403],
    ['bad cookie beside the token in the URL', get(`/?${t}`, [cookie('%ZZ')]), 200],
    ['upgrade with a bad cookie', upgrade('/api', [cookie('%E0%A4%A')]), 403],
    ['DNS rebinding: another Host with the token', get(`/?${t}`).replace(`Host: 127.0.0.1:${server.port}`, `Host: evil.example:${server.port}`), 403],
    ['the right name on another port', get(`/?${t}`).replace(`Host: 127.0.0.1:${server.port}`, `Host: localhost:1`), 403],
    ['upgrade from a rebinding Host', upgrade('/api', [cookie(server.token)]).replace(`Host: 127.0.0.1:${server.port}`, `Host: evil.example:${server.port}`), 403],
    ['HTTP/1.0 without a Host', `GET /?${t} HTTP/1.0\r\n\r\n`, 403],
    ['upgrade from another origin', upgrade('/api', [cookie(server.token)]).replace(`Origin: ${server.origin}`, 'Origin: http://127.0.0.1:1'), 403],
    ['upgrade on another path', upgrade('/other', [cookie(server.token)]), 403],
    ['upgrade with a bad WebSocket version', upgrade('/api', [cookie(server.token)]).replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 99'), 400],
    ['upgrade with a bad key', upgrade('/api', [cookie(server.token)]).replace('dGhlIHNhbXBsZSBub25jZQ==', '***'), 400],
    ['binary garbage', Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), 400],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    ['control character in a header', get('/', ['X-A: a\x01b']), 400],
    ['header section over the size limit', get('/', [`X-Big: ${'a'.repeat(70_000)}`]), 431],
    // The method is refused before the body is read; the bad body then only closes the connection.
    ['bad chunked body', `POST /?${t} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n`, 405],
    ['both Content-Length and chunked', `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ['bad percent-encoding in the path', get(`/%E0%A4%A?${t}`), 400],
    ['NUL in the path', get(`/index.html%00.js?${t}`), 403],
    ['dot-dot out of the renderer', get(`/..%2F..%2Fetc%2Fpasswd?${t}`), 403],
    ['symlink to a file outside the renderer', get(`/leak.txt?${t}`), 404],
    ['symlinked folder outside the renderer', get(`/assets/secret.txt?${t}`), 404],
    ['method the server does not serve', `DELETE /?${t} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`, 405],
    ['truncated request line', 'GET /index.ht', null],
  ];
};

describe('serve host under hostile HTTP', () => {
  it('answers every malformed request with an error status and goes on serving', async () => {
    for (const [what, request, status] of hostile()) {
      const response = await rawExchange(server.port, request, status === null ? 300 : 3000);
      if (status !== null) expect(statusOf(response), what).toBe(status);
      expect(server.alive(), `${what}: the server process died`).toBe(true);
      expect(await answersTokenUrl(server), `${what}: the token URL is no longer answered`).toBe(true);
    }
    expect(server.peakRss()).toBeLessThan(PEAK_RSS_BOUND);
  }, 120_000);

  it('names the token cookie after the port and accepts the other loopback Host names', async () => {
    const page = await fetch(server.url);
    expect(page.headers.get('set-cookie')).toMatch(new RegExp(`^layerbench_token_${server.port}=`));
    for (const host of [`localhost:${server.port}`, `[::1]:${server.port}`]) {
      expect(statusOf(await rawExchange(server.port, get(`/?token=${server.token}`).replace(`127.0.0.1:${server.port}`, host))), host).toBe(200);
    }
  });
});

describe('serve --allow-host', () => {
  it('adds a name to the Host allow-list', async () => {
    const proxied = await startServeProcess({ extraArgs: ['--allow-host', 'lab.example,other.example:8443'] });
    try {
      const as = (host: string) => rawExchange(proxied.port, `GET /?token=${proxied.token} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(statusOf(await as(`lab.example:${proxied.port}`))).toBe(200);
      expect(statusOf(await as('other.example:8443'))).toBe(200);
      expect(statusOf(await as(`evil.example:${proxied.port}`))).toBe(403);
      // The page served under that name opens its socket from that origin; a socket from another origin is refused.
      const socketFrom = (origin: string) =>
        rawExchange(
          proxied.port,
          `GET /api HTTP/1.1\r\nHost: lab.example:${proxied.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\nCookie: ${proxied.cookie}\r\n\r\n`,
          500,
        );
      expect(statusOf(await socketFrom(`http://lab.example:${proxied.port}`))).toBe(101);
      expect(statusOf(await socketFrom(proxied.origin))).toBe(403);
    } finally {
      await proxied.stop();
    }
  }, 90_000);
});
