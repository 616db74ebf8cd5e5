/**
 * Typed errors through the in-process dispatcher (what both hosts call): each service error keeps
 * its domain code and class name in the result, and comes back out of the client's unwrapResult as
 * an ApiError with both. The real services over a temporary data folder.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { ApiError, commands, deserializeError, serializeError, unwrapResult, type CommandName } from '../../contract';
import { createServices } from '.';
import { dispatchCommand } from './dispatch';
import { ExportError } from './export/errors';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-dispatch-'));
const services = createServices({ host: 'browser', dataDir: join(dir, 'data') });
afterAll(async () => {
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const garbage = join(dir, 'garbage.layerbench.json');
writeFileSync(garbage, 'not json at all');
const runFolder = join(dir, 'not-a-run');
mkdirSync(runFolder);

describe('dispatch keeps error codes and names', () => {
  const cases: { name: CommandName; payload: unknown; code: string; errorName: string }[] = [
    { name: 'runs.get', payload: { runId: 'run-missing' }, code: 'not-found', errorName: 'RunNotFoundError' },
    { name: 'projects.open', payload: { path: garbage }, code: 'invalid-input', errorName: 'ProjectFileError' },
    { name: 'datasets.delete', payload: { id: 'fashion-mnist' }, code: 'unsupported', errorName: 'DomainError' },
    { name: 'datasets.preview', payload: { id: 'user-gone-000000' }, code: 'not-found', errorName: 'DomainError' },
    // An export service error, its code mapped from the old 'missing'.
    { name: 'runs.import', payload: { path: join(dir, 'missing.h5') }, code: 'not-found', errorName: 'ExportError' },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.code} (${c.errorName})`, async () => {
      const result = await services.dispatch(c.name, c.payload);
      expect(result).toMatchObject({ ok: false, error: { code: c.code, name: c.errorName } });
      const error = (() => {
        try {
          unwrapResult(result, commands[c.name].response as ZodType<unknown>);
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: c.code, name: c.errorName });
    });
  }

  it('maps the export codes to the domain codes, and leaves an unexpected error failed', async () => {
    const handlers = {
      'runs.exportModel': () => {
        throw new ExportError('not-found', `${runFolder}: not a run folder (no run.json)`, runFolder);
      },
      'app.info': () => {
        throw new TypeError('x is undefined');
      },
    };
    expect(await dispatchCommand(handlers as never, 'runs.exportModel', { runId: 'run-1', format: 'tfjs', path: join(dir, 'out'), overwrite: false })).toMatchObject({
      ok: false,
      error: { code: 'not-found', name: 'ExportError' },
    });
    expect(await dispatchCommand(handlers as never, 'app.info', {})).toEqual({ ok: false, error: { code: 'failed', name: 'TypeError', message: 'x is undefined' } });
  });

  it('serializeError and deserializeError are each other’s inverse, and refuse what is not an error body', () => {
    const body = serializeError(new ExportError('limit', 'model.json: over 1.0 GiB'));
    expect(body).toEqual({ code: 'limit', name: 'ExportError', message: 'model.json: over 1.0 GiB' });
    expect(serializeError(deserializeError(body))).toEqual(body);
    // A name that is no identifier is not carried (it cannot smuggle text); a non-error is 'failed'.
    const odd = Object.assign(new Error('x'), { name: 'Bad name <script>', code: 'no-such-code' });
    expect(serializeError(odd)).toEqual({ code: 'failed', message: 'x' });
    expect(deserializeError({ code: 'nonsense', message: 1 })).toMatchObject({ code: 'failed', name: 'ApiError' });
  });
});
