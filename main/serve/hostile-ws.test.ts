/**
 * Hostile WebSocket frames against the real `layerbench serve` process, past the token check:
 * frames built by hand over a raw socket, each breaking the protocol in one way. The socket must
 * be closed with the standard close code, the process must live on and answer the token URL, and
 * its peak memory stays under a stated bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from './server';
import { answersTokenUrl, buildFrame, openRawWebSocket, startServeProcess, type ServeProcess } from './test-wire';

/** Node + tsx + the services idle near 100 MiB; with maximal frames parsed, about 170 MiB was measured. */
const PEAK_RSS_BOUND = 256 * 1024 * 1024;

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const CLOSE = 0x8;
const PING = 0x9;

let server: ServeProcess;

beforeAll(async () => {
  server = await startServeProcess();
}, 90_000);
afterAll(() => server.stop());

const closePayload = (code: number, reason: Buffer | string = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
const validRequest = JSON.stringify({ kind: 'request', id: 1, name: 'app.info', payload: {} });

/** [what, the frames sent, the close code the server must answer with] */
const violations: [string, Buffer[], number][] = [
  ['reserved opcode 0x3', [buildFrame({ opcode: 0x3, payload: 'x' })], 1002],
  ['reserved control opcode 0xB', [buildFrame({ opcode: 0xb })], 1002],
  ['RSV1 without a negotiated extension', [buildFrame({ opcode: TEXT, rsv: 4, payload: validRequest })], 1002],
  ['RSV2 and RSV3 set', [buildFrame({ opcode: TEXT, rsv: 3, payload: validRequest })], 1002],
  ['text that is not UTF-8', [buildFrame({ opcode: TEXT, payload: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]) })], 1007],
  ['a declared length over maxPayload', [buildFrame({ opcode: TEXT, declaredLength: BigInt(MAX_FRAME_BYTES + 1) })], 1009],
  ['a 64-bit length beyond 2^53', [buildFrame({ opcode: BINARY, declaredLength: 1n << 62n })], 1009],
  [
    'fragments that add up to more than maxPayload',
    [
      buildFrame({ opcode: TEXT, fin: false, payload: Buffer.alloc(MAX_FRAME_BYTES / 2, 0x20) }),
      buildFrame({ opcode: CONTINUATION, payload: Buffer.alloc(MAX_FRAME_BYTES / 2 + 8, 0x20) }),
    ],
    1009,
  ],
  ['an unmasked client frame', [buildFrame({ opcode: TEXT, masked: false, payload: validRequest })], 1002],
  ['a fragmented ping', [buildFrame({ opcode: PING, fin: false, payload: 'x' })], 1002],
  ['a ping over 125 bytes', [buildFrame({ opcode: PING, payload: Buffer.alloc(126) })], 1002],
  ['a continuation with nothing to continue', [buildFrame({ opcode: CONTINUATION, payload: 'x' })], 1002],
  ['a new message inside a fragmented one', [buildFrame({ opcode: TEXT, fin: false, payload: '{' }), buildFrame({ opcode: TEXT, payload: '}' })], 1002],
  ['a close frame with a 1-byte body', [buildFrame({ opcode: CLOSE, payload: Buffer.from([3]) })], 1002],
  ['a close frame with a reserved code', [buildFrame({ opcode: CLOSE, payload: closePayload(999) })], 1002],
  ['a close frame with code 1005 on the wire', [buildFrame({ opcode: CLOSE, payload: closePayload(1005) })], 1002],
  ['a close reason that is not UTF-8', [buildFrame({ opcode: CLOSE, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) })], 1007],
];

describe('serve host under hostile WebSocket frames', () => {
  it('closes each violating socket with the standard code and goes on serving', async () => {
    for (const [what, frames, code] of violations) {
      const socket = await openRawWebSocket(server);
      for (const frame of frames) socket.socket.write(frame);
      const close = await socket.closeFrame(5000);
      socket.socket.destroy();
      expect(close?.code, what).toBe(code);
      expect(server.alive(), `${what}: the server process died`).toBe(true);
      expect(await answersTokenUrl(server), `${what}: the token URL is no longer answered`).toBe(true);
    }
  }, 120_000);

  it('survives truncated frames and sockets dropped mid-frame', async () => {
    const truncated = [
      buildFrame({ opcode: TEXT, payload: validRequest }).subarray(0, 1),
      buildFrame({ opcode: TEXT, payload: Buffer.alloc(300, 0x20) }).subarray(0, 3),
      buildFrame({ opcode: TEXT, payload: Buffer.alloc(70_000, 0x20) }).subarray(0, 9),
      buildFrame({ opcode: TEXT, payload: validRequest }).subarray(0, 10),
    ];
    for (const bytes of truncated) {
      const socket = await openRawWebSocket(server);
      socket.socket.write(bytes);
      await new Promise((r) => setTimeout(r, 50));
      socket.socket.destroy();
      expect(server.alive()).toBe(true);
    }
    expect(await answersTokenUrl(server)).toBe(true);
  }, 60_000);

  it('answers valid frames that carry no valid request with typed errors, on the same socket', async () => {
    const socket = await openRawWebSocket(server);
    const answer = async (frame: Buffer) => {
      socket.socket.write(frame);
      const reply = await socket.next();
      return JSON.parse(reply!.payload.toString()) as { kind: string; id: number; result: { ok: boolean; error?: { code: string } } };
    };
    expect((await answer(buildFrame({ opcode: BINARY, payload: validRequest }))).result.error?.code).toBe('invalid-request');
    expect((await answer(buildFrame({ opcode: TEXT, payload: '{"kind":"request","id":1e400}' }))).result.error?.code).toBe('invalid-request');
    const depth = MAX_FRAME_BYTES / 2;
    expect((await answer(buildFrame({ opcode: TEXT, payload: '['.repeat(depth) + ']'.repeat(depth) }))).result.error?.code).toBe('invalid-request');
    // A maximal frame: a large, valid JSON value the request schema rejects.
    const big = `{"kind":"request","id":7,"name":"app.info","payload":{"x":[${'{},'.repeat(MAX_FRAME_BYTES / 3 - 40)}{}]}}`;
    expect(Buffer.byteLength(big)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(await answer(buildFrame({ opcode: TEXT, payload: big }))).toMatchObject({ id: 7, result: { ok: false, error: { code: 'invalid-request' } } });
    // Fragmented and interleaved with a ping, as the protocol allows: still one valid request.
    socket.socket.write(buildFrame({ opcode: TEXT, fin: false, payload: validRequest.slice(0, 10) }));
    socket.socket.write(buildFrame({ opcode: PING, payload: 'p' }));
    const pong = await socket.next();
    expect(pong?.opcode).toBe(0xa);
    expect(await answer(buildFrame({ opcode: CONTINUATION, payload: validRequest.slice(10) }))).toMatchObject({ id: 1, result: { ok: true } });
    socket.socket.destroy();
    expect(server.peakRss()).toBeLessThan(PEAK_RSS_BOUND);
  }, 60_000);
});
