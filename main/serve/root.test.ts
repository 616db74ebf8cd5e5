/**
 * `layerbench serve --root DIR` through the real server: every path a client sends (projects,
 * dataset sources, model imports, exports) must resolve inside DIR, symbolic links followed.
 */
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PROJECT_FORMAT, PROJECT_VERSION, defaultTrainingSettings } from '../../contract';
import { presets } from '../../model/presets';
import { createServices, type Services } from '../services';
import { startServer, type RunningServer } from './server';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'layerbench-root-')));
const root = join(dir, 'root');
const outside = join(dir, 'outside');
const project = { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: presets[0]!.spec, training: defaultTrainingSettings };
let services: Services;
let server: RunningServer;
let ws: WebSocket;
let nextId = 1;

beforeAll(async () => {
  mkdirSync(join(dir, 'renderer'), { recursive: true });
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html>');
  writeFileSync(join(outside, 'p.layerbench.json'), JSON.stringify(project));
  writeFileSync(join(outside, 'data.csv'), 'a,b,label\n1,2,0\n3,4,1\n');
  writeFileSync(join(root, 'data.csv'), 'a,b,label\n1,2,0\n3,4,1\n');
  symlinkSync(join(outside, 'p.layerbench.json'), join(root, 'link.layerbench.json'));
  symlinkSync(outside, join(root, 'out'));
  symlinkSync(join(outside, 'created.layerbench.json'), join(root, 'dangling.layerbench.json'));
  symlinkSync(join(root, 'loop.layerbench.json'), join(root, 'loop.layerbench.json'));
  symlinkSync(join(root, 'data.csv'), join(root, 'inner.csv'));
  services = createServices({ host: 'browser', dataDir: join(dir, 'data'), root });
  server = await startServer({ services, rendererDir: join(dir, 'renderer') });
  ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api`, { headers: { origin: server.origin, cookie: `${server.cookieName}=${server.token}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
});
afterAll(async () => {
  ws.close();
  await server.close();
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

type Reply = { ok: boolean; value?: Record<string, unknown>; error?: { code: string; message: string } };
function call(name: string, payload: unknown): Promise<Reply> {
  const id = nextId++;
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      if (frame.kind !== 'response' || frame.id !== id) return;
      ws.off('message', onMessage);
      resolve(frame.result);
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ kind: 'request', id, name, payload }));
  });
}

const csv = (path: string) => ({ kind: 'csv', path, labelColumn: 'label' });

describe('serve --root', () => {
  it('suggests the root as the projects folder', async () => {
    expect((await call('app.info', {})).value?.projectsDir).toBe(root);
  });

  it('saves and opens projects inside the root, by full or relative path', async () => {
    expect(await call('projects.save', { path: join(root, 'a.layerbench.json'), project, overwrite: false })).toMatchObject({ ok: true, value: { saved: true } });
    expect(await call('projects.open', { path: join(root, 'a.layerbench.json') })).toMatchObject({ ok: true, value: { path: join(root, 'a.layerbench.json') } });
    expect(await call('projects.save', { path: 'sub-b.layerbench.json', project, overwrite: false })).toMatchObject({
      ok: true,
      value: { path: join(root, 'sub-b.layerbench.json') },
    });
    expect((await call('datasets.scan', { source: csv(join(root, 'data.csv')) })).ok).toBe(true);
    // A link that stays inside the root is followed.
    expect((await call('datasets.scan', { source: csv(join(root, 'inner.csv')) })).ok).toBe(true);
  });

  it('refuses paths outside the root, through symbolic links, and with ".."', async () => {
    const refused: [string, unknown][] = [
      ['projects.open', { path: join(outside, 'p.layerbench.json') }],
      ['projects.open', { path: join(root, 'link.layerbench.json') }],
      ['projects.open', { path: `${root}/../outside/p.layerbench.json` }],
      ['projects.open', { path: '/etc/passwd' }],
      ['projects.open', { path: join(root, 'loop.layerbench.json') }],
      ['projects.save', { path: join(root, 'out', 'new.layerbench.json'), project, overwrite: false }],
      ['projects.save', { path: join(root, 'dangling.layerbench.json'), project, overwrite: true }],
      ['projects.autosave', { path: join(outside, 'p.layerbench.json'), project }],
      ['datasets.scan', { source: csv(join(outside, 'data.csv')) }],
      ['datasets.scan', { source: csv(join(root, 'out', 'data.csv')) }],
      ['datasets.import', { importId: 'imp-1', name: 'x', source: { kind: 'idx', imagesPath: join(root, 'data.csv'), labelsPath: join(outside, 'data.csv') }, skipBad: false }],
      ['datasets.import', { importId: 'imp-2', name: 'x', source: { kind: 'image-folder', path: join(root, 'out'), width: 8, height: 8 }, skipBad: false }],
      ['runs.import', { path: join(root, 'out', 'model.json') }],
      ['runs.exportModel', { runId: 'any-run', format: 'py', path: join(outside, 'model.py'), overwrite: true }],
    ];
    for (const [name, payload] of refused) {
      const reply = await call(name, payload);
      expect(reply.error?.code, `${name} ${JSON.stringify(payload)}`).toBe('invalid-input');
      expect(reply.error?.message).toContain(root);
    }
    expect(existsSync(join(outside, 'new.layerbench.json'))).toBe(false);
    expect(existsSync(join(outside, 'created.layerbench.json'))).toBe(false);
    expect(existsSync(join(outside, 'model.py'))).toBe(false);
  });
});
