/** The serve host over real HTTP and a real WebSocket, with the real services behind it. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ApiError, commands, unwrapResult } from '../../contract';
import { createServices, type Services } from '../services';
import { startServer, type RunningServer } from './server';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-serve-'));
const rendererDir = join(dir, 'renderer');
let services: Services;
let server: RunningServer;

beforeAll(async () => {
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Layerbench</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the renderer');
  services = createServices({ host: 'browser', dataDir: join(dir, 'data') });
  server = await startServer({ services, rendererDir });
});
afterAll(async () => {
  await server.close();
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function open(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, frame: unknown): Promise<{ id: number; result: { ok: boolean; value?: unknown; error?: { code: string; message: string } } }> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const message = JSON.parse(data.toString());
      if (message.kind === 'response') {
        ws.off('message', onMessage);
        resolve(message);
      }
    };
    ws.on('message', onMessage);
    ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  });
}

describe('serve host', () => {
  it('listens on loopback only and prints a URL with the token', () => {
    expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).toBe(`${server.origin}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('refuses requests without the token, and with a wrong one', async () => {
    expect((await fetch(`${server.origin}/`)).status).toBe(403);
    expect((await fetch(`${server.origin}/assets/app.js`)).status).toBe(403);
    expect((await fetch(`${server.origin}/?token=${server.token.slice(1)}x`)).status).toBe(403);
  });

  it('serves the page with the token, then assets with the cookie it sets, under a strict CSP', async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const asset = await fetch(`${server.origin}/assets/app.js`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const escape = await fetch(`${server.origin}/..%2Fsecret.txt?token=${server.token}`);
    expect(escape.status).toBe(403);
  });

  it('accepts a socket only with the token and the server origin', async () => {
    await expect(open({ origin: server.origin })).rejects.toThrow(/403/);
    await expect(open({ origin: 'http://evil.example', cookie: `${server.cookieName}=${server.token}` })).rejects.toThrow(/403/);
    const ws = await open({ origin: server.origin, cookie: `${server.cookieName}=${server.token}` });
    ws.close();
  });

  it('answers commands, and bad frames with typed errors without dropping the socket', async () => {
    const ws = await open({ origin: server.origin, cookie: `${server.cookieName}=${server.token}` });
    const info = await call(ws, { kind: 'request', id: 1, name: 'app.info', payload: {} });
    expect(info).toMatchObject({ id: 1, result: { ok: true, value: { name: 'Layerbench', host: 'browser' } } });
    expect((await call(ws, 'not json')).result.error?.code).toBe('invalid-request');
    expect((await call(ws, { kind: 'request', id: 'x' })).result.error?.code).toBe('invalid-request');
    expect((await call(ws, { kind: 'request', id: 2, name: 'nope', payload: {} })).result.error?.code).toBe('unknown-command');
    const bad = await call(ws, { kind: 'request', id: 3, name: 'training.start', payload: { spec: {}, settings: {} } });
    expect(bad.result.error?.code).toBe('invalid-request');
    expect((await call(ws, { kind: 'request', id: 4, name: 'datasets.info', payload: { id: 'fashion-mnist' } })).result.ok).toBe(true);
    ws.close();
  });

  it('keeps a service error’s code and name across the socket, to an ApiError on the client', async () => {
    const ws = await open({ origin: server.origin, cookie: `${server.cookieName}=${server.token}` });
    const cases = [
      { name: 'runs.get', payload: { runId: 'run-missing' }, error: { code: 'not-found', name: 'RunNotFoundError' } },
      { name: 'datasets.delete', payload: { id: 'fashion-mnist' }, error: { code: 'unsupported', name: 'DomainError' } },
      { name: 'projects.open', payload: { path: dir }, error: { code: 'unsupported', name: 'ProjectFileError' } },
    ];
    for (const [i, c] of cases.entries()) {
      const { result } = await call(ws, { kind: 'request', id: 10 + i, name: c.name, payload: c.payload });
      expect(result, c.name).toMatchObject({ ok: false, error: c.error });
      // What the renderer's WebSocket client makes of it (unwrapResult, as renderer/host/websocket.ts does).
      const thrown = (() => {
        try {
          unwrapResult(result, commands[c.name as 'runs.get'].response);
        } catch (error) {
          return error;
        }
      })();
      expect(thrown, c.name).toBeInstanceOf(ApiError);
      expect(thrown, c.name).toMatchObject(c.error);
    }
    ws.close();
  });
});
