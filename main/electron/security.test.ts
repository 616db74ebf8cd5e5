/**
 * The Electron host's security policy, checked without the Electron binary: everything the
 * navigation guard, the request filter, the app:// protocol and the IPC sender check decide is in
 * policy.ts, which does not import electron.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APP_ENTRY_URL,
  APP_ORIGIN,
  ipcSenderRejection,
  isAllowedNavigation,
  isAllowedRendererRequest,
  isAppUrl,
  isSafeExternalUrl,
  resolveAppAsset,
  type IpcSenderInfo,
} from './policy';

const here = (file: string) => new URL(file, import.meta.url);

describe('the app origin', () => {
  it('accepts the app’s own URLs', () => {
    expect(APP_ORIGIN).toBe('app://layerbench');
    for (const url of [APP_ENTRY_URL, `${APP_ORIGIN}/`, `${APP_ORIGIN}/assets/index-abc.js`, `${APP_ORIGIN}/index.html#/runs?x=1`]) {
      expect(isAppUrl(url), url).toBe(true);
      expect(isAllowedNavigation(url), url).toBe(true);
    }
  });

  it('rejects every other origin, look-alikes included', () => {
    for (const url of [
      'https://layerbench',
      'http://localhost:5173/',
      'file:///etc/passwd',
      'app://evil/index.html',
      'app://layerbench.evil.com/',
      'app://layerbench:8080/',
      'app://user:pass@layerbench/',
      'app://user@layerbench/',
      'apps://layerbench/',
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'about:blank',
      'chrome://gpu',
      'devtools://devtools/bundled/inspector.html',
      '',
      'not a url',
    ]) {
      expect(isAppUrl(url), url).toBe(false);
      expect(isAllowedNavigation(url), url).toBe(false);
    }
    expect(isAppUrl(null)).toBe(false);
    expect(isAppUrl(undefined)).toBe(false);
  });
});

describe('requests from the app window', () => {
  it('allow the app origin and inline data', () => {
    for (const url of [`${APP_ORIGIN}/assets/app.css`, 'data:image/png;base64,AAAA', 'blob:app://layerbench/1234']) {
      expect(isAllowedRendererRequest(url), url).toBe(true);
    }
  });
  it('block the network and the file system', () => {
    for (const url of [
      'https://example.com/x.js',
      'http://127.0.0.1:8080/api',
      'ws://localhost/api',
      'wss://example.com',
      'file:///etc/passwd',
      'ftp://x/',
      'devtools://devtools/x',
      'chrome://gpu',
    ]) {
      expect(isAllowedRendererRequest(url), url).toBe(false);
    }
  });
});

describe('external links', () => {
  it('only https links with a host and no credentials go to the browser', () => {
    expect(isSafeExternalUrl('https://www.tensorflow.org/js')).toBe(true);
    for (const url of [
      'http://example.com',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'smb://host/share',
      'ms-msdt:/id PCWDiagnostic',
      'https://user:pw@example.com/',
      `${APP_ORIGIN}/index.html`,
      'https://',
      'nonsense',
    ]) {
      expect(isSafeExternalUrl(url), url).toBe(false);
    }
  });
});

describe('the app:// file server', () => {
  const root = resolve('/srv/layerbench/out/renderer');

  it('serves files inside the renderer folder', () => {
    expect(resolveAppAsset(root, `${APP_ORIGIN}/`)).toEqual({ ok: true, file: join(root, 'index.html') });
    expect(resolveAppAsset(root, APP_ENTRY_URL)).toEqual({ ok: true, file: join(root, 'index.html') });
    expect(resolveAppAsset(root, `${APP_ORIGIN}/assets/index-x1.js?v=2#h`)).toEqual({ ok: true, file: join(root, 'assets', 'index-x1.js') });
    expect(resolveAppAsset(root, `${APP_ORIGIN}/assets/a%20b.png`)).toEqual({ ok: true, file: join(root, 'assets', 'a b.png') });
  });

  it('refuses traversal, encoded or not, and other origins', () => {
    for (const url of [
      `${APP_ORIGIN}/..%2F..%2Fetc%2Fpasswd`,
      `${APP_ORIGIN}/assets/..%2f..%2f..%2fpackage.json`,
      `${APP_ORIGIN}/..%5C..%5Cpackage.json`,
      `${APP_ORIGIN}/assets%5C..%5C..%5Cpackage.json`,
      `${APP_ORIGIN}/C:%5CWindows%5Cwin.ini`,
      `${APP_ORIGIN}/index.html%00.png`,
      `${APP_ORIGIN}/%E0%A4%A`,
      'app://other/index.html',
      'file:///etc/passwd',
    ]) {
      const result = resolveAppAsset(root, url);
      expect(result.ok, url).toBe(false);
    }
    // The URL parser folds dot segments (plain or %2e-encoded) away before we see them, as
    // Chromium does: what is left is still inside the root.
    expect(resolveAppAsset(root, `${APP_ORIGIN}/../../../etc/passwd`)).toEqual({ ok: true, file: join(root, 'etc', 'passwd') });
    expect(resolveAppAsset(root, `${APP_ORIGIN}/%2e%2e/%2e%2e/package.json`)).toEqual({ ok: true, file: join(root, 'package.json') });
  });
});

describe('IPC sender validation', () => {
  const trusted: IpcSenderInfo = { fromAppWindow: true, frameExists: true, isTopFrame: true, frameUrl: APP_ENTRY_URL };

  it('trusts the app window’s top frame on the app origin', () => {
    expect(ipcSenderRejection(trusted)).toBeNull();
    expect(ipcSenderRejection({ ...trusted, frameUrl: `${APP_ORIGIN}/index.html#/train` })).toBeNull();
  });

  it('refuses everything else', () => {
    expect(ipcSenderRejection({ ...trusted, fromAppWindow: false })).toMatch(/not a Layerbench window/);
    expect(ipcSenderRejection({ ...trusted, frameExists: false, frameUrl: null })).toMatch(/gone/);
    expect(ipcSenderRejection({ ...trusted, isTopFrame: false })).toMatch(/top frame/);
    for (const frameUrl of ['https://example.com/', 'file:///tmp/x.html', 'about:blank', 'app://evil/', '', null, undefined]) {
      expect(ipcSenderRejection({ ...trusted, frameUrl }), String(frameUrl)).toMatch(/app origin/);
    }
  });
});

describe('module boundaries', () => {
  const imports = (file: string) => [...readFileSync(here(file), 'utf8').matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)].map((m) => m[1] ?? m[2]);

  it('keeps the policies (the app’s and the hosts’ shared one) and the channel names free of electron', () => {
    expect(imports('./policy.ts')).not.toContain('electron');
    expect(imports('../host-policy.ts').every((specifier) => specifier.startsWith('node:') || specifier.startsWith('.'))).toBe(true);
    expect(imports('./channels.ts')).toEqual([]);
  });

  it('keeps the preload to electron, zod and the contract (a sandboxed preload can require nothing else)', () => {
    for (const specifier of imports('../../preload/index.ts')) {
      expect(specifier, specifier).toMatch(/^(electron|zod|\.\/jitless|\.\.\/contract|\.\.\/main\/electron\/channels)$/);
    }
  });

  it('builds every window with the locked-down webPreferences', () => {
    const security = readFileSync(here('./security.ts'), 'utf8');
    for (const setting of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false', 'webSecurity: true', 'webviewTag: false']) {
      expect(security, setting).toContain(setting);
    }
    expect(readFileSync(here('./window.ts'), 'utf8')).toContain('webPreferences: secureWebPreferences(');
  });
});
