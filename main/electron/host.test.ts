/**
 * The Electron host's IPC binding and app:// protocol, run against a stand-in for the `electron`
 * module (its binary is not needed): which senders are served, what reaches the services, where
 * events go, and what the protocol serves with which headers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, fromBridge, invokeAcrossBridge, type EventName, type EventPayload, type Result } from '../../contract';
import { createServices } from '../services';
import type { Services } from '../services';

type Handler = (event: unknown, ...args: unknown[]) => Promise<unknown>;
const electron = vi.hoisted(() => ({
  handlers: new Map<string, Handler>(),
  protocolHandlers: new Map<string, (request: Request) => Promise<Response>>(),
}));

vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, handler: Handler) => {
      if (electron.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      electron.handlers.set(channel, handler);
    },
    removeHandler: (channel: string) => electron.handlers.delete(channel),
  },
  protocol: { registerSchemesAsPrivileged: () => undefined },
}));

const { bindServicesToIpc } = await import('./ipc');
const { handleAppProtocol } = await import('./protocol');
const { APP_ENTRY_URL, EVENT_CHANNEL, INVOKE_CHANNEL } = await import('./policy');
const { CONTENT_SECURITY_POLICY } = await import('../host-policy');

// --- stand-ins -----------------------------------------------------------------------------------
interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
  processId: number;
  routingId: number;
}
function fakeWindow(id: number, url = APP_ENTRY_URL) {
  const mainFrame: FakeFrame = { url, parent: null, processId: id, routingId: 1 };
  const sent: unknown[][] = [];
  const webContents = {
    id,
    mainFrame,
    getURL: () => mainFrame.url,
    isDestroyed: () => false,
    isCrashed: () => false,
    send: (...args: unknown[]) => sent.push(args),
  };
  return { window: { isDestroyed: () => false, webContents }, webContents, mainFrame, sent };
}
function fakeServices() {
  let listener: (<E extends EventName>(name: E, payload: EventPayload<E>) => void) | null = null;
  const calls: [unknown, unknown][] = [];
  const services = {
    dispatch: vi.fn(async (name: unknown, payload: unknown): Promise<Result> => {
      calls.push([name, payload]);
      if (name === 'boom') throw new Error('exploded');
      return { ok: true, value: { echoed: name } };
    }),
    onEvent: (next: typeof listener) => {
      listener = next;
      return () => (listener = null);
    },
  };
  return {
    services: services as unknown as Services,
    calls,
    emit: (name: EventName, payload: unknown) => listener?.(name, payload as never),
    subscribed: () => listener !== null,
  };
}

// --- IPC -----------------------------------------------------------------------------------------
describe('the IPC binding', () => {
  let warnings: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    electron.handlers.clear();
    warnings = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    return () => warnings.mockRestore();
  });

  function setup() {
    const app = fakeWindow(1);
    const other = fakeWindow(2);
    const host = fakeServices();
    const windows = [app.window];
    const unbind = bindServicesToIpc({ services: host.services, windows: () => windows as never });
    const invoke = electron.handlers.get(INVOKE_CHANNEL)!;
    return { app, other, host, windows, unbind, invoke };
  }

  it('passes calls from the app window’s top frame to the services', async () => {
    const { app, host, invoke } = setup();
    const result = await invoke({ sender: app.webContents, senderFrame: app.mainFrame }, 'app.info', {});
    expect(result).toEqual({ ok: true, value: { echoed: 'app.info' } });
    expect(host.calls).toEqual([['app.info', {}]]);
  });

  it('answers untrusted senders with an error result, without calling the services', async () => {
    const { app, other, host, invoke } = setup();
    const iframe: FakeFrame = { url: APP_ENTRY_URL, parent: app.mainFrame, processId: 1, routingId: 7 };
    const elsewhere: FakeFrame = { ...app.mainFrame, url: 'https://example.com/' };
    for (const event of [
      { sender: other.webContents, senderFrame: other.mainFrame }, // another webContents
      { sender: app.webContents, senderFrame: iframe }, // a subframe
      { sender: app.webContents, senderFrame: elsewhere }, // navigated off the app origin
      { sender: app.webContents, senderFrame: null }, // frame gone
    ]) {
      const result = (await invoke(event, 'app.info', {})) as Result;
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('failed');
    }
    expect(host.calls).toEqual([]);
    expect(warnings).toHaveBeenCalledTimes(4);
  });

  it('never throws: a failing service becomes an error result', async () => {
    const { app, invoke } = setup();
    const result = await invoke({ sender: app.webContents, senderFrame: app.mainFrame }, 'boom', {});
    expect(result).toEqual({ ok: false, error: { code: 'failed', name: 'Error', message: 'exploded' } });
    // A malformed event object (no sender) is refused, not thrown.
    expect(await invoke({}, 'app.info', {})).toMatchObject({ ok: false });
  });

  it('keeps a service error’s code and name from the services through IPC and the preload to the renderer', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-ipc-errors-'));
    const services = createServices({ host: 'electron', dataDir });
    const app = fakeWindow(1);
    const unbind = bindServicesToIpc({ services, windows: () => [app.window] as never });
    const handler = electron.handlers.get(INVOKE_CHANNEL)!;
    try {
      const send = (name: string, request: unknown) => handler({ sender: app.webContents, senderFrame: app.mainFrame }, name, request);
      // What ipcMain answers: the RunStore's RunNotFoundError, typed.
      expect(await send('runs.get', { runId: 'run-missing' })).toEqual({
        ok: false,
        error: { code: 'not-found', name: 'RunNotFoundError', message: 'Run run-missing does not exist' },
      });
      // The preload rejects with plain data; contextBridge copies plain data whole (structuredClone
      // stands in for that copy: it too drops an Error's own properties), and the renderer's host/
      // makes an ApiError of it again.
      const preload = {
        invoke: (name: never, request: never) => invokeAcrossBridge(send, name, request).catch((body: unknown) => Promise.reject(structuredClone(body))),
        on: () => () => {},
      };
      const error = await fromBridge(preload)
        .invoke('runs.get', { runId: 'run-missing' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: 'not-found', name: 'RunNotFoundError', message: 'Run run-missing does not exist' });
      const invalid = await fromBridge(preload)
        .invoke('runs.get', { runId: '../x' })
        .catch((e: unknown) => e);
      expect(invalid).toMatchObject({ code: 'invalid-request', issues: [expect.stringMatching(/^runId: /)] });
    } finally {
      unbind();
      await services.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('sends events to the app windows on the app origin only', () => {
    const { app, host, windows } = setup();
    const strayed = fakeWindow(3, 'https://example.com/');
    windows.push(strayed.window);
    host.emit('datasets.progress', { dataset: 'fashion-mnist', file: 'x', receivedBytes: 1, totalBytes: 2 });
    expect(app.sent).toEqual([[EVENT_CHANNEL, 'datasets.progress', { dataset: 'fashion-mnist', file: 'x', receivedBytes: 1, totalBytes: 2 }]]);
    expect(strayed.sent).toEqual([]);
  });

  it('unbinds the handler and the event subscription', () => {
    const { host, unbind } = setup();
    expect(host.subscribed()).toBe(true);
    unbind();
    expect(electron.handlers.has(INVOKE_CHANNEL)).toBe(false);
    expect(host.subscribed()).toBe(false);
    // Binding again works (no "second handler" error).
    setup().unbind();
  });
});

// --- app:// protocol -----------------------------------------------------------------------------
describe('the app:// protocol', () => {
  const root = mkdtempSync(join(tmpdir(), 'layerbench-protocol-'));
  const rendererDir = join(root, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Layerbench</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'secret');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const session = {
    protocol: { handle: (scheme: string, handler: (request: Request) => Promise<Response>) => electron.protocolHandlers.set(scheme, handler) },
  };
  handleAppProtocol(session as never, rendererDir);
  const fetchApp = (url: string, init?: RequestInit) => electron.protocolHandlers.get('app')!(new Request(url, init));

  it('serves the renderer with the CSP and the right content type', async () => {
    for (const url of [APP_ENTRY_URL, 'app://layerbench/']) {
      const response = await fetchApp(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(await response.text()).toContain('<title>Layerbench</title>');
    }
    const script = await fetchApp('app://layerbench/assets/app.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses what is not a renderer file', async () => {
    expect((await fetchApp('app://layerbench/missing.js')).status).toBe(404);
    expect((await fetchApp('app://layerbench/assets')).status).toBe(404); // a folder
    expect((await fetchApp('app://layerbench/..%2Fsecret.txt')).status).toBe(403);
    expect((await fetchApp('app://other/index.html')).status).toBe(403);
    const post = await fetchApp(APP_ENTRY_URL, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const refused = await fetchApp('app://layerbench/..%2Fsecret.txt');
    expect(refused.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await refused.text()).not.toContain('secret');
  });

  it('answers HEAD without a body', async () => {
    const response = await fetchApp(APP_ENTRY_URL, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });
});
