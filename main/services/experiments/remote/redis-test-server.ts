/**
 * For tests (not used by the app): a private `redis-server` (Debian's, or any on PATH) on a free
 * loopback port, no persistence, in a temp folder; stopped and removed by `stop()`. Every test starts
 * its own, so tests never share queue state.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  port: number;
  /** `redis://` URL (`rediss://` with TLS), with the password when there is one. */
  url: string;
  /** The certificate to trust, with TLS. */
  caFile: string | null;
  stop(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER ?? (process.platform === 'linux' ? '/usr/bin/redis-server' : 'redis-server');

/** A port the kernel just gave out (and took back): free unless someone grabs it in between, hence the retries below. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A self-signed certificate for 127.0.0.1 (its own CA), made with openssl. */
function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    {
      stdio: 'ignore',
    },
  );
  return { cert, key };
}

/** One round trip of RESP: true once the server answers PING (after AUTH when given). */
function answersPing(port: number, password?: string, ca?: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = ca ? tlsConnect({ port, host: '127.0.0.1', ca }) : connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('+PONG')) done(true);
      else if (reply.startsWith('-')) done(false);
    });
    socket.once(ca ? 'secureConnect' : 'connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** `tls`: TLS only (`rediss://`), with a self-signed certificate, `caFile`, that clients must be told to trust. */
export async function startTestRedis(options: { password?: string; tls?: boolean } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-redis-'));
  const certificate = options.tls ? selfSignedCertificate(dir) : null;
  const ca = certificate ? readFileSync(certificate.cert) : undefined;
  let lastError = '';
  for (let tryNumber = 0; tryNumber < 3; tryNumber++) {
    const port = await freePort();
    const listen = certificate
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          certificate.cert,
          '--tls-key-file',
          certificate.key,
          '--tls-ca-cert-file',
          certificate.cert,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
    const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    if (options.password) args.push('--requirepass', options.password);
    const child = spawn(REDIS_SERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      if (await answersPing(port, options.password, ca)) {
        const stop = async () => {
          child.kill('SIGTERM');
          await exited(child);
          rmSync(dir, { recursive: true, force: true });
        };
        const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
        return { port, url: `${certificate ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`, caFile: certificate?.cert ?? null, stop };
      }
      if (child.exitCode !== null) break;
      const failed = await Promise.race([spawnError, new Promise<null>((resolve) => setTimeout(() => resolve(null), 50))]);
      if (failed) throw new Error(`cannot start ${REDIS_SERVER}: ${failed.message} (install Debian's redis-server)`);
    }
    child.kill('SIGKILL');
    await exited(child);
    lastError = output.trim().split('\n').slice(-3).join('\n');
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not answer PING: ${lastError}`);
}
