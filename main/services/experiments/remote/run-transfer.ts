/**
 * A finished run folder through Redis: the agent uploads its files in bounded chunks (one Redis
 * string each, with a TTL) and describes them in a manifest; the coordinator checks the manifest,
 * fetches every chunk (its size before its bytes), verifies sizes and SHA-256 and writes the folder
 * beside the runs, renaming it into place only when it is complete: a bad upload leaves nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Redis } from 'ioredis';
import { DomainError } from '../../../../contract/wire';
import { MAX_JSON_BYTES, MAX_LOG_BYTES, limit } from '../../files/bounded-read';
import { MAX_CHUNK_BYTES, MAX_UPLOAD_FILES, UPLOAD_TTL_SECONDS, RunFilePathSchema, chunkKey, type UploadManifest } from './protocol';

type ManifestFile = UploadManifest['files'][number];

/** The files of a run folder that travel: run.json, the two logs, weights/ and best/ (no dot files, no other folders). */
async function runFolderFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && RunFilePathSchema.safeParse(entry.name).success) files.push(entry.name);
    if (entry.isDirectory() && (entry.name === 'weights' || entry.name === 'best')) {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true })) {
        const path = `${entry.name}/${inner.name}`;
        if (inner.isFile() && RunFilePathSchema.safeParse(path).success) files.push(path);
      }
    }
  }
  if (files.length > MAX_UPLOAD_FILES) throw new DomainError('limit', `${dir} holds ${files.length} files; an upload carries at most ${MAX_UPLOAD_FILES}`);
  return files.sort();
}

/** Uploads the folder's files under `upload` (chunks of at most `chunkBytes`); returns the manifest's file list. */
export async function uploadRunFolder(redis: Redis, dir: string, upload: string, chunkBytes = MAX_CHUNK_BYTES): Promise<ManifestFile[]> {
  const size = Math.min(Math.max(1, chunkBytes), MAX_CHUNK_BYTES);
  const manifest: ManifestFile[] = [];
  const paths = await runFolderFiles(dir);
  for (const [index, path] of paths.entries()) {
    const handle = await open(join(dir, path), 'r');
    try {
      const bytes = (await handle.stat()).size;
      const hash = createHash('sha256');
      let chunks = 0;
      for (let offset = 0; offset < bytes; offset += size) {
        const buffer = Buffer.alloc(Math.min(size, bytes - offset));
        await handle.read(buffer, 0, buffer.length, offset);
        hash.update(buffer);
        await redis.set(chunkKey(upload, index, chunks++), buffer, 'EX', UPLOAD_TTL_SECONDS);
      }
      manifest.push({ path, bytes, sha256: hash.digest('hex'), chunks });
    } finally {
      await handle.close();
    }
  }
  return manifest;
}

/** The chunk keys of an upload, for deleting it once stored. */
export function uploadChunkKeys(upload: string, files: readonly ManifestFile[]): string[] {
  return files.flatMap((file, index) => Array.from({ length: file.chunks }, (_, n) => chunkKey(upload, index, n)));
}

/**
 * Fetches an upload (its manifest already checked by UploadManifestSchema) into a new hidden folder
 * inside `parent` and returns its path; the caller renames it into place. Throws a DomainError
 * naming the file and the problem; the partial folder is removed.
 */
export async function downloadRunFolder(redis: Redis, manifest: UploadManifest, upload: string, parent: string): Promise<string> {
  const paths = new Set(manifest.files.map((f) => f.path));
  if (paths.size !== manifest.files.length) throw new DomainError('invalid-input', 'the upload lists a file twice');
  if (!paths.has('run.json')) throw new DomainError('invalid-input', 'the upload has no run.json');
  const dir = join(parent, `.incoming-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  try {
    for (const [index, file] of manifest.files.entries()) {
      const cap = capOf(file.path);
      if (file.bytes > cap) throw new DomainError('limit', `${file.path}: ${file.bytes} bytes is over its ${cap}-byte limit`);
      if (file.chunks !== 0 && file.chunks > file.bytes) throw new DomainError('invalid-input', `${file.path}: ${file.chunks} chunks for ${file.bytes} bytes`);
      if (file.bytes > file.chunks * MAX_CHUNK_BYTES) throw new DomainError('invalid-input', `${file.path}: ${file.bytes} bytes cannot fit in ${file.chunks} chunks`);
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      const handle = await open(target, 'wx');
      try {
        const hash = createHash('sha256');
        let written = 0;
        for (let n = 0; n < file.chunks; n++) {
          const key = chunkKey(upload, index, n);
          // The size first: a hostile value is refused before it is read into memory.
          const length = await redis.strlen(key);
          if (length === 0) throw new DomainError('invalid-input', `${file.path}: chunk ${n + 1} of ${file.chunks} is missing (expired, or never uploaded)`);
          if (length > MAX_CHUNK_BYTES || written + length > file.bytes)
            throw new DomainError('invalid-input', `${file.path}: chunk ${n + 1} is ${length} bytes, more than the file's declared size allows`);
          const chunk = await redis.getBuffer(key);
          if (!chunk || chunk.length !== length) throw new DomainError('invalid-input', `${file.path}: chunk ${n + 1} changed while it was read`);
          hash.update(chunk);
          await handle.write(chunk);
          written += chunk.length;
        }
        if (written !== file.bytes) throw new DomainError('invalid-input', `${file.path}: ${written} bytes arrived, the manifest declares ${file.bytes}`);
        if (hash.digest('hex') !== file.sha256) throw new DomainError('invalid-input', `${file.path}: its content does not match its SHA-256 (a damaged or forged chunk)`);
      } finally {
        await handle.close();
      }
    }
    return dir;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** What Layerbench would read of such a file at most (README, "Hostile files and size limits"). */
function capOf(path: string): number {
  if (path === 'run.json') return MAX_JSON_BYTES;
  return path.endsWith('.jsonl') ? MAX_LOG_BYTES : limit('fileBytes');
}

/** Moves the complete folder to its final name; refuses to replace anything already there. */
export async function moveIntoPlace(from: string, to: string): Promise<void> {
  const existing = await stat(to).catch(() => null);
  if (existing) throw new DomainError('exists', `${to} already exists`);
  await rename(from, to);
}

/** Appends JSON lines to a file, creating its folder. */
export async function appendLines(path: string, lines: string[]): Promise<void> {
  if (!lines.length) return;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, lines.join('\n') + '\n', { flag: 'a' });
}
