/**
 * The policy both hosts serve the renderer with (the Electron app:// protocol and the browser
 * host's HTTP server): CSP, headers, MIME types, and the path check, symbolic links included, on
 * real files.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, CSP_DIRECTIVES, mimeTypeFor, realFileInside, resolveStaticPath, staticResponseHeaders } from './host-policy';

describe('the content security policy', () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split(';').map((part) => {
      const [name, ...values] = part.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );

  it('is the strict policy, with inline styles only', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(Object.keys(CSP_DIRECTIVES)).toHaveLength(directives.size);
  });

  it('never allows eval, inline script, wildcards or remote hosts', () => {
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-eval');
    expect(CONTENT_SECURITY_POLICY).not.toContain('wasm-unsafe-eval');
    expect(CONTENT_SECURITY_POLICY).not.toContain('*');
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/https?:|wss?:|file:/);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
    for (const [name, values] of directives) {
      if (name !== 'style-src') expect(values, name).not.toContain("'unsafe-inline'");
    }
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
  });

  it('is sent with every response of the renderer’s files', () => {
    const headers = staticResponseHeaders('text/html; charset=utf-8');
    expect(headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(headers['X-Content-Type-Options']).toBe('nosniff');
  });
});

describe('the renderer’s files', () => {
  it('labels what it serves', () => {
    expect(mimeTypeFor('index.html')).toBe('text/html; charset=utf-8');
    expect(mimeTypeFor('a/b.JS')).toBe('text/javascript; charset=utf-8');
    expect(mimeTypeFor('x.wasm')).toBe('application/wasm');
    expect(mimeTypeFor('x.bin')).toBe('application/octet-stream');
  });

  it('maps paths inside the root, and refuses NUL, backslashes, drive letters and dot segments', () => {
    const root = '/srv/renderer';
    expect(resolveStaticPath(root, '/')).toEqual({ ok: true, file: join(root, 'index.html') });
    expect(resolveStaticPath(root, '/assets/a%20b.png')).toEqual({ ok: true, file: join(root, 'assets', 'a b.png') });
    expect(resolveStaticPath(root, '/%E0%A4%A')).toMatchObject({ ok: false, status: 400 });
    for (const path of ['/..%2F..%2Fetc%2Fpasswd', '/assets/..%2f..%2fx', '/..%5Cx', '/C:%5Cwin.ini', '/index.html%00.js']) {
      expect(resolveStaticPath(root, path), path).toMatchObject({ ok: false, status: 403 });
    }
    expect(resolveStaticPath(root, '/assets//x.js')).toMatchObject({ ok: false, status: 404 });
  });

  describe('on disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerbench-host-policy-'));
    const root = join(dir, 'renderer');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    writeFileSync(join(root, 'assets', 'app.js'), '1');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(root, 'assets', 'app.js'), join(root, 'alias.js'));
    symlinkSync(join(dir, 'secret.txt'), join(root, 'leak.txt'));
    symlinkSync(dir, join(root, 'outside'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('serves regular files, and links that stay inside the root', async () => {
      expect(await realFileInside(root, join(root, 'index.html'))).toEqual({ ok: true, file: join(root, 'index.html') });
      expect(await realFileInside(root, join(root, 'alias.js'))).toEqual({ ok: true, file: join(root, 'assets', 'app.js') });
    });

    it('answers 404 for links out of the root, folders and missing files', async () => {
      for (const file of [join(root, 'leak.txt'), join(root, 'outside', 'secret.txt'), join(root, 'assets'), join(root, 'missing.js')]) {
        expect(await realFileInside(root, file), file).toMatchObject({ ok: false, status: 404 });
      }
    });
  });
});
