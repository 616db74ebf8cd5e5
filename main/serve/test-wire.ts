/**
 * Test support for the serve host's hostile-input suites: the real `layerbench serve` in a child
 * process (so a crash shows as a dead process, and its peak memory can be read from /proc), raw
 * HTTP over TCP, and hand-built WebSocket frames over a raw socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '../..');

export interface ServeProcess {
  url: string;
  origin: string;
  port: number;
  token: string;
  cookie: string;
  /** A temp folder for the test's files: `root/` (the --root when asked), `renderer/`, `data/`. */
  dir: string;
  child: ChildProcess;
  alive(): boolean;
  /** Peak resident memory of the server process so far (VmHWM), in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

/** Starts the CLI's `serve` from the TypeScript sources (tsx), on a fresh temp folder. */
export async function startServeProcess(options: { confined?: boolean; extraArgs?: string[] } = {}): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-hostile-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(renderer);
  mkdirSync(join(dir, 'root'));
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Layerbench</title>');
  const args = ['--import', 'tsx', join(repo, 'main/cli/index.ts'), 'serve', '--port', '0', '--data-dir', join(dir, 'data'), '--renderer-dir', renderer];
  if (options.confined) args.push('--root', join(dir, 'root'));
  const child = spawn(process.execPath, [...args, ...(options.extraArgs ?? [])], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForServeUrl(child, 60_000);
  const parsed = new URL(url);
  const token = parsed.searchParams.get('token')!;
  const port = Number(parsed.port);
  return {
    url,
    origin: parsed.origin,
    port,
    token,
    cookie: `layerbench_token_${port}=${token}`,
    dir,
    child,
    alive: () => child.exitCode === null && child.signalCode === null,
    peakRss: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The token URL a starting `layerbench serve` child prints on stdout; rejects with its stderr if it exits first. */
export function waitForServeUrl(child: ChildProcess, timeoutMs: number): Promise<string> {
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`layerbench serve printed no URL in ${timeoutMs / 1000} s. stderr:\n${stderr}`)), timeoutMs);
    child.stdout!.on('data', (d) => {
      out += d;
      const match = /running at (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`layerbench serve exited with ${code}:\n${stderr}`)));
  });
}

/** Writes raw bytes to the port and collects what comes back until the server closes or `ms` pass. */
export function rawExchange(port: number, data: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(data);
  });
}

/** The status code of a raw HTTP response, or null when none came. */
export function statusOf(response: string): number | null {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return match ? Number(match[1]) : null;
}

export interface WireFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Reads server → client frames (unmasked) off a raw socket. */
export class FrameReader {
  private buffer: Buffer;
  private waiting: (() => void) | null = null;
  ended = false;

  constructor(
    readonly socket: Socket,
    leftover: Buffer,
  ) {
    this.buffer = leftover;
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiting?.();
    });
    const end = () => {
      this.ended = true;
      this.waiting?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  private parse(): WireFrame | null {
    const b = this.buffer;
    if (b.length < 2) return null;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    if (b.length < offset + length) return null;
    this.buffer = b.subarray(offset + length);
    return { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: b.subarray(offset, offset + length) };
  }

  /** The next frame, or null when the socket ended (or `ms` passed) first. */
  async next(ms = 3000): Promise<WireFrame | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = this.parse();
      if (frame) return frame;
      if (this.ended || Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiting = () => {
          clearTimeout(timer);
          this.waiting = null;
          resolve();
        };
      });
    }
  }

  /** Skips data frames up to the close frame; returns its code (1005 for none) and reason. */
  async closeFrame(ms = 3000): Promise<{ code: number; reason: string } | null> {
    for (;;) {
      const frame = await this.next(ms);
      if (!frame) return null;
      if (frame.opcode === 0x8) {
        return frame.payload.length >= 2 ? { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') } : { code: 1005, reason: '' };
      }
    }
  }
}

/** A client frame built by hand: anything the protocol forbids can be asked for. */
export function buildFrame(options: { opcode: number; payload?: Buffer | string; fin?: boolean; rsv?: number; masked?: boolean; declaredLength?: bigint }): Buffer {
  const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : (options.payload ?? Buffer.alloc(0));
  const first = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | options.opcode;
  const length = options.declaredLength ?? BigInt(payload.length);
  const masked = options.masked ?? true;
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (length < 126n) header = Buffer.from([first, maskBit | Number(length)]);
  else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, body]);
}

/** A raw socket upgraded to a WebSocket on /api with the token cookie and the page's origin. */
export function openRawWebSocket(server: { port: number; origin: string; cookie: string }): Promise<FrameReader> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = statusOf(head.toString('latin1'));
      if (status !== 101) return reject(new Error(`upgrade answered ${status}`));
      resolve(new FrameReader(socket, head.subarray(end + 4)));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(
      [
        'GET /api HTTP/1.1',
        `Host: 127.0.0.1:${server.port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Origin: ${server.origin}`,
        `Cookie: ${server.cookie}`,
        '',
        '',
      ].join('\r\n'),
    );
  });
}

/** The server answers the token URL with the page: it is alive and serving. */
export async function answersTokenUrl(server: { url: string }): Promise<boolean> {
  try {
    const response = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
