/**
 * What one socket sends, with its memory bounded. A client that reads slower than events come
 * (a busy tab, a slow link) makes `ws.bufferedAmount` grow; above `streamBytes` the stream events
 * (training 'batches' and 'stats', dataset progress) are held and merged — records appended up to a
 * cap, progress replaced by the latest — and go out, in order, once the socket drains or before the
 * next frame that must not be lost. Command responses and the other events are never dropped: if
 * the queue is still above `closeBytes` when one is due, the client is not reading at all and the
 * socket is closed with code 1008 and a reason starting with `limit:`, which the renderer shows.
 */
import type { WebSocket } from 'ws';
import type { EventName, HostFrame, Result } from '../../contract';

export interface SendLimits {
  /** Bytes waiting on the socket above which stream events are held and merged. */
  streamBytes: number;
  /** Bytes waiting on the socket above which the client counts as not reading: the socket is closed. */
  closeBytes: number;
}

export const DEFAULT_SEND_LIMITS: SendLimits = { streamBytes: 1024 * 1024, closeBytes: 32 * 1024 * 1024 };

/** The close code for a client that stopped reading (RFC 6455 1008, policy violation). */
export const CLOSE_NOT_READING = 1008;
/** Held records per stream: what a dashboard needs to redraw; the run files keep every record. */
const MAX_HELD_RECORDS = 4096;
const MAX_HELD_STATS = 64;
const DRAIN_POLL_MS = 50;
const TERMINATE_AFTER_MS = 5000;

type Payload = Record<string, unknown>;
interface Held {
  name: EventName;
  payload: Payload;
}

/** The key under which a stream event is merged with earlier ones, or null for an event that must go out as it is. */
function streamKey(name: EventName, payload: Payload): string | null {
  if (name === 'training' && (payload.type === 'batches' || payload.type === 'stats')) return `training:${String(payload.type)}:${String(payload.runId)}`;
  if (name === 'datasets.progress') return `datasets.progress:${String(payload.dataset)}:${String(payload.file)}`;
  if (name === 'datasets.importProgress' && payload.phase !== 'done') return `datasets.importProgress:${String(payload.importId)}`;
  // A sweep's progress is its whole summary: the newest one says everything the older ones did.
  if (name === 'sweeps.progress') return `sweeps.progress:${String(payload.sweepId)}`;
  return null;
}

function merge(older: Payload, newer: Payload): Payload {
  if (newer.type === 'batches') return { ...newer, batches: [...(older.batches as unknown[]), ...(newer.batches as unknown[])].slice(-MAX_HELD_RECORDS) };
  if (newer.type === 'stats') return { ...newer, records: [...(older.records as unknown[]), ...(newer.records as unknown[])].slice(-MAX_HELD_STATS) };
  return newer;
}

export class SocketSender {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: SendLimits = DEFAULT_SEND_LIMITS,
  ) {}

  event(name: EventName, payload: unknown): void {
    const record = payload as Payload;
    const key = streamKey(name, record);
    if (key !== null && (this.held.size > 0 || this.ws.bufferedAmount > this.limits.streamBytes)) {
      const earlier = this.held.get(key);
      this.held.set(key, { name, payload: earlier ? merge(earlier.payload, record) : record });
      this.timer ??= setInterval(() => this.drain(), DRAIN_POLL_MS).unref();
      return;
    }
    this.flushHeld();
    this.write({ kind: 'event', name, payload });
  }

  response(id: number, result: Result): void {
    this.flushHeld();
    this.write({ kind: 'response', id, result });
  }

  /** Stops the drain timer and forgets held events (the socket closed). */
  dispose(): void {
    this.closed = true;
    this.held.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private drain(): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return this.dispose();
    if (this.ws.bufferedAmount <= this.limits.streamBytes) this.flushHeld();
  }

  private flushHeld(): void {
    if (this.held.size === 0) return;
    const held = [...this.held.values()];
    this.held.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const { name, payload } of held) this.write({ kind: 'event', name, payload });
  }

  private write(frame: HostFrame): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.limits.closeBytes) return this.closeNotReading();
    let data: string;
    try {
      data = JSON.stringify(frame);
    } catch (error) {
      // Services validate what they return; a value JSON cannot carry still gets a typed answer.
      if (frame.kind !== 'response') return;
      data = JSON.stringify({
        kind: 'response',
        id: frame.id,
        result: { ok: false, error: { code: 'failed', message: `The response could not be encoded: ${(error as Error).message}` } },
      });
    }
    this.ws.send(data);
  }

  private closeNotReading(): void {
    const mib = Math.round(this.limits.closeBytes / (1024 * 1024));
    this.dispose();
    this.ws.close(CLOSE_NOT_READING, `limit: the client did not read its messages (over ${mib} MiB queued)`);
    // The close frame waits behind the unread data: a client that reads late still learns why; one
    // that reads nothing is cut off, and the memory its queue held is freed.
    setTimeout(() => this.ws.terminate(), TERMINATE_AFTER_MS).unref();
  }
}
