/**
 * Seeded fuzzing of the WebSocket API: real request frames of the API's commands, mutated a few
 * thousand times (types swapped, fields removed, huge strings, deep nesting, wrong ids and names,
 * random bytes), sent one at a time to the real server. Every answer must be a contract-valid
 * frame: a typed error or a result the command's response schema accepts; the server lives on.
 * Paths point into a temp folder, which is also the server's --root; no frame can start training
 * or probe backends (those commands only appear with payloads no mutation can make valid).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { HostFrameSchema, PROJECT_FORMAT, PROJECT_VERSION, commands, defaultTrainingSettings, isCommandName } from '../../contract';
import { presets } from '../../model/presets';
import { createServices, type Services } from '../services';
import { startServer, type RunningServer } from './server';

const SEED = 0x1a7e5;
const FRAMES = 3000;

const dir = mkdtempSync(join(tmpdir(), 'layerbench-fuzz-'));
const root = join(dir, 'root');
const project = { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: presets[0]!.spec, training: defaultTrainingSettings };
const csv = { kind: 'csv', path: join(root, 'data.csv'), labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: null };
const missingRun = { runId: 'no-such-run' };

/** One real, valid request per command that is cheap to run, and the costly ones with payloads that stay invalid. */
const bases: [string, unknown][] = [
  ['app.info', {}],
  ['runs.list', {}],
  ['runs.get', missingRun],
  ['runs.rename', { ...missingRun, name: 'renamed' }],
  ['runs.delete', missingRun],
  ['runs.exportCsv', missingRun],
  ['runs.import', { path: join(root, 'model.json') }],
  ['runs.exportModel', { ...missingRun, format: 'py', path: join(root, 'model.py'), overwrite: false }],
  ['training.stop', missingRun],
  ['training.pause', missingRun],
  ['training.resume', missingRun],
  ['training.start', { settings: {} }],
  ['model.inspect', { spec: { class_name: 'Functional' } }],
  ['datasets.info', { id: 'fashion-mnist' }],
  ['datasets.list', {}],
  ['datasets.scan', { source: csv }],
  ['datasets.import', { importId: 'fuzz-1', name: 'fuzz', source: csv, skipBad: true }],
  ['datasets.cancelImport', { importId: 'fuzz-1' }],
  ['datasets.preview', { id: 'no-such-dataset' }],
  ['datasets.delete', { id: 'no-such-dataset' }],
  ['projects.open', { path: join(root, 'p.layerbench.json') }],
  ['projects.save', { path: join(root, 'q.layerbench.json'), project, overwrite: true }],
  ['projects.recent', {}],
  ['projects.autosave', { project, path: null }],
  ['projects.recovery', {}],
  ['projects.discardRecovery', {}],
];
const cheapNames = bases.map(([name]) => name).filter((name) => name !== 'training.start' && name !== 'model.inspect');

/** mulberry32: a small seeded generator, so a failure replays exactly. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutator(rand: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const nested = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = rand() < 0.5 ? [value] : { a: value };
    return value;
  };
  const values: (() => unknown)[] = [
    () => null,
    () => rand() < 0.5,
    () => pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, -1e-308]),
    () => '',
    () => pick(['../../../etc/passwd', '/etc/passwd', join(dir, 'outside'), 'fashion-mnist', 'Sequential', '\u0000', '\ud800', '%E0%A4%A']),
    () => 'x'.repeat(100_000),
    () => nested(2_000),
    () => Array.from({ length: 10_000 }, (_, i) => i),
    () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i])),
    () => [],
    () => ({}),
  ];
  const randomValue = () => pick(values)();

  /** Every (container, key) in the value, for a mutation to hit. */
  const slots = (value: unknown, out: [Record<string, unknown>, string][] = [], depth = 0): [Record<string, unknown>, string][] => {
    if (depth > 12 || typeof value !== 'object' || value === null) return out;
    for (const key of Object.keys(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots((value as Record<string, unknown>)[key], out, depth + 1);
    }
    return out;
  };

  /** A frame to send: a string (text frame) or bytes (binary frame). */
  return (): string | Buffer => {
    const [name, payload] = pick(bases);
    const frame: Record<string, unknown> = { kind: 'request', id: Math.floor(rand() * 1e6), name, payload: structuredClone(payload) };
    const mutations = 1 + Math.floor(rand() * 3);
    for (let m = 0; m < mutations; m++) {
      const kind = rand();
      if (kind < 0.1) frame.id = pick([-1, 1.5, '7', null, 2 ** 60, undefined]);
      else if (kind < 0.2) frame.name = rand() < 0.7 ? pick(cheapNames) : pick(['', 'nope', '__proto__', 'constructor', 'app.info '.repeat(50)]);
      else if (kind < 0.25) frame.kind = pick(['response', 'event', null, 1]);
      else {
        const targets = slots(frame.payload);
        if (targets.length === 0) {
          frame.payload = randomValue();
          continue;
        }
        const [container, key] = pick(targets);
        if (rand() < 0.3) delete container[key];
        else container[key] = randomValue();
      }
    }
    const text = JSON.stringify(frame);
    const corrupt = rand();
    if (corrupt < 0.05) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 512) }, () => Math.floor(rand() * 256)));
    if (corrupt < 0.1) {
      const at = Math.floor(rand() * text.length);
      return text.slice(0, at) + String.fromCharCode(Math.floor(rand() * 128)) + text.slice(at + 1);
    }
    if (corrupt < 0.12) return text.slice(0, Math.floor(rand() * text.length));
    return text;
  };
}

let services: Services;
let server: RunningServer;

beforeAll(async () => {
  mkdirSync(join(dir, 'renderer'), { recursive: true });
  mkdirSync(root);
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html>');
  writeFileSync(join(root, 'data.csv'), 'a,b,label\n1,2,0\n3,4,1\n5,6,0\n');
  writeFileSync(join(root, 'p.layerbench.json'), JSON.stringify(project));
  services = createServices({ host: 'browser', dataDir: join(dir, 'data'), root });
  server = await startServer({ services, rendererDir: join(dir, 'renderer') });
});
afterAll(async () => {
  await server.close();
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function connect(): Promise<WebSocket> {
  const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api`, { headers: { origin: server.origin, cookie: `${server.cookieName}=${server.token}` } });
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

/** Sends one frame and waits for the next response frame (events in between are checked too). */
function exchange(ws: WebSocket, frame: string | Buffer, seen: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response in 10 s to ${String(frame).slice(0, 200)}`)), 10_000);
    const onMessage = (data: Buffer) => {
      const message = JSON.parse(data.toString());
      seen.push(message);
      if (message.kind !== 'response') return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(message);
    };
    ws.on('message', onMessage);
    ws.send(frame, { binary: Buffer.isBuffer(frame) });
  });
}

describe('WebSocket API fuzz', () => {
  it(`answers ${FRAMES} mutated frames with contract-valid typed errors or results`, async () => {
    const next = mutator(random(SEED));
    const ws = await connect();
    const codes = new Map<string, number>();
    for (let i = 0; i < FRAMES; i++) {
      const frame = next();
      const seen: unknown[] = [];
      const response = await exchange(ws, frame, seen);
      for (const message of seen) expect(HostFrameSchema.safeParse(message).success, `frame ${i}: ${JSON.stringify(message).slice(0, 300)}`).toBe(true);
      const { id, result } = response as { id: number; result: { ok: boolean; value?: unknown; error?: { code: string; message: string } } };
      let sent: { id?: unknown; name?: unknown } | null = null;
      try {
        sent = typeof frame === 'string' ? JSON.parse(frame) : null;
      } catch {
        // corrupted text: answered with id -1
      }
      if (result.ok) {
        // Only a well-formed request succeeds, and its value is what the command's contract says.
        expect(sent?.id, `frame ${i}`).toBe(id);
        expect(isCommandName(sent?.name), `frame ${i}`).toBe(true);
        const schema = commands[sent!.name as keyof typeof commands].response;
        expect(schema.safeParse(result.value).success, `frame ${i}: ${String(sent!.name)}`).toBe(true);
      } else {
        // A breach of the response contract would be the server's bug, never the input's.
        expect(result.error!.code, `frame ${i}: ${result.error!.message.slice(0, 300)}`).not.toBe('invalid-response');
        // Every refusal says what kind it is: a service error carries a domain code, never the catch-all.
        expect(result.error!.code, `frame ${i}: ${result.error!.message.slice(0, 300)}`).not.toBe('failed');
      }
      const key = result.ok ? 'ok' : result.error!.code;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    ws.close();
    // The mix exercised both sides: results and each kind of refusal.
    expect(codes.get('ok')).toBeGreaterThan(50);
    expect(codes.get('invalid-request')).toBeGreaterThan(500);
    expect((await fetch(server.url)).status).toBe(200);
    const after = await connect();
    expect(await exchange(after, JSON.stringify({ kind: 'request', id: 1, name: 'app.info', payload: {} }), [])).toMatchObject({ id: 1, result: { ok: true } });
    after.close();
  }, 120_000);
});
