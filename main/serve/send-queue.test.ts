/**
 * The per-socket send queue over real sockets on loopback: a client that stops reading gets its
 * stream events merged (memory bounded, order kept, responses never dropped), and a client that
 * reads nothing while responses pile up is closed with 1008 and a `limit:` reason.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROJECT_FORMAT, PROJECT_VERSION, TrainingEventSchema, DatasetImportProgressSchema, defaultTrainingSettings } from '../../contract';
import { presets } from '../../model/presets';
import { createServices } from '../services';
import { CLOSE_NOT_READING, SocketSender } from './send-queue';
import { startServer } from './server';
import { buildFrame, openRawWebSocket, type FrameReader } from './test-wire';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-send-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads every frame the server wrote until `last` matches one (or the socket ends). */
async function readUntil(reader: FrameReader, last: (message: { kind: string; name?: string; payload?: { type?: string; phase?: string } }) => boolean) {
  const messages: { kind: string; name?: string; id?: number; payload?: Record<string, unknown> & { type?: string; phase?: string } }[] = [];
  for (;;) {
    const frame = await reader.next(10_000);
    if (!frame || frame.opcode === 0x8) return messages;
    const message = JSON.parse(frame.payload.toString());
    messages.push(message);
    if (last(message)) return messages;
  }
}

describe('send queue', () => {
  it('merges stream events for a client that stops reading, keeps their order, and still delivers responses', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const port = (wss.address() as AddressInfo).port;
    const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    const reader = await openRawWebSocket({ port, origin: 'http://127.0.0.1', cookie: 'none=1' });
    const ws = await accepted;
    const sender = new SocketSender(ws, { streamBytes: 64 * 1024, closeBytes: 256 * 1024 * 1024 });
    reader.socket.pause();

    const EVENTS = 3000;
    const PER_EVENT = 100;
    let peakBuffered = 0;
    for (let e = 0; e < EVENTS; e++) {
      const batches = Array.from({ length: PER_EVENT }, (_, i) => ({ epoch: 0, batch: e * PER_EVENT + i, step: e * PER_EVENT + i, loss: 0.5, acc: 0.5 }));
      sender.event('training', { type: 'batches', runId: 'r1', batches, completedBatches: (e + 1) * PER_EVENT, totalBatches: EVENTS * PER_EVENT, samplesPerSec: 1000 });
      sender.event('datasets.importProgress', { importId: 'imp-1', phase: 'reading', done: e, total: EVENTS, skipped: 0 });
      peakBuffered = Math.max(peakBuffered, ws.bufferedAmount);
      // Let the socket move what the kernel takes, as a real event stream would between events.
      if (e % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    sender.event('datasets.importProgress', { importId: 'imp-1', phase: 'done', done: EVENTS, total: EVENTS, skipped: 0 });
    sender.response(42, { ok: true, value: { answered: true } });
    // Without the queue every event would wait in memory (over 20 MB of batches); with it, the
    // socket holds the stream threshold plus one event.
    expect(peakBuffered).toBeLessThan(1024 * 1024);

    reader.socket.resume();
    const messages = await readUntil(reader, (m) => m.kind === 'response');
    const events = messages.filter((m) => m.kind === 'event');
    expect(events.length).toBeLessThan(2 * EVENTS);
    for (const event of events) {
      const schema = event.name === 'training' ? TrainingEventSchema : DatasetImportProgressSchema;
      expect(schema.safeParse(event.payload).success).toBe(true);
    }
    const steps = events.filter((m) => m.payload?.type === 'batches').flatMap((m) => (m.payload!.batches as { step: number }[]).map((b) => b.step));
    expect(steps.every((step, i) => i === 0 || step > steps[i - 1]!)).toBe(true);
    expect(steps.at(-1)).toBe(EVENTS * PER_EVENT - 1);
    const progress = events.filter((m) => m.name === 'datasets.importProgress');
    expect(progress.at(-1)!.payload!.phase).toBe('done');
    expect(messages.at(-1)).toMatchObject({ kind: 'response', id: 42, result: { ok: true } });

    sender.dispose();
    reader.socket.destroy();
    wss.close();
  }, 60_000);

  it('closes a socket that reads nothing while responses pile up, and the server goes on', async () => {
    // A ~1 MB project (120 Dense layers with 9,000-character names, all within the spec's limits), opened
    // again and again: each response carries all of it.
    const project = { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: structuredClone(presets[0]!.spec), training: defaultTrainingSettings };
    const layers = project.model.config.layers;
    const dense = layers.find((l) => l.class_name === 'Dense')!;
    const wide = Array.from({ length: 120 }, (_, i) => ({ class_name: 'Dense', config: { ...structuredClone(dense.config), units: 10, name: `dense_${i}_${'x'.repeat(9000)}` } }));
    project.model.config.layers = [layers[0]!, ...wide];
    const file = join(dir, 'big.layerbench.json');
    writeFileSync(file, JSON.stringify(project));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    const services = createServices({ host: 'browser', dataDir: join(dir, 'data') });
    const server = await startServer({ services, rendererDir: dir, sendLimits: { streamBytes: 16 * 1024, closeBytes: 256 * 1024 } });
    try {
      const reader = await openRawWebSocket({ port: Number(new URL(server.origin).port), origin: server.origin, cookie: `${server.cookieName}=${server.token}` });
      reader.socket.pause();
      const REQUESTS = 40;
      for (let id = 1; id <= REQUESTS; id++)
        reader.socket.write(buildFrame({ opcode: 0x1, payload: JSON.stringify({ kind: 'request', id, name: 'projects.open', payload: { path: file } }) }));
      await new Promise((r) => setTimeout(r, 2000));
      reader.socket.resume();
      let responses = 0;
      let close: { code: number; reason: string } | null = null;
      for (;;) {
        const frame = await reader.next(10_000);
        if (!frame) break;
        if (frame.opcode === 0x8) {
          close = { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
          break;
        }
        responses++;
      }
      expect(close?.code).toBe(CLOSE_NOT_READING);
      expect(close?.reason).toMatch(/^limit: /);
      expect(responses).toBeLessThan(REQUESTS);
      reader.socket.destroy();
      expect((await fetch(server.url)).status).toBe(200);
    } finally {
      await server.close();
      await services.dispose();
    }
  }, 60_000);
});
