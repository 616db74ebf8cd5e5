/**
 * The packaging step's Electron fuses (scripts/electron-fuses.cjs, electron-builder.yml's afterPack):
 * the hook is wired, names every fuse the security checklist asks for, and flips them in a binary —
 * a stand-in file holding Electron's fuse sentinel and wire, read back with @electron/fuses' own
 * reader, as it would read a real Electron binary.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuseState, FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const hookPath = join(root, 'scripts/electron-fuses.cjs');
interface Hook {
  (context: unknown): Promise<void>;
  FUSES: Record<string, boolean>;
  electronBinary(context: unknown): string;
  flipLayerbenchFuses(binary: string): Promise<void>;
}
const hook = createRequire(import.meta.url)(hookPath) as Hook;
const dir = mkdtempSync(join(tmpdir(), 'layerbench-fuses-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The security checklist's fuses: what must be off, what must be on. */
const OFF = ['RunAsNode', 'EnableNodeOptionsEnvironmentVariable', 'EnableNodeCliInspectArguments'];
const ON = ['EnableCookieEncryption', 'EnableEmbeddedAsarIntegrityValidation', 'OnlyLoadAppFromAsar'];
const EXPECTED: Record<string, boolean> = Object.fromEntries([...OFF.map((name) => [name, false]), ...ON.map((name) => [name, true])]);

/** Electron's fuse wire as it sits in the binary: sentinel, version 1, length, one byte per fuse. */
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
function fakeElectron(path: string, states: number[]): void {
  const filler = Buffer.alloc(64 * 1024, 0x90);
  writeFileSync(path, Buffer.concat([filler, Buffer.from(SENTINEL), Buffer.from([1, states.length, ...states]), filler]));
}

describe('Electron fuses at packaging', () => {
  it('electron-builder.yml runs the fuses hook after packing', () => {
    const yml = readFileSync(join(root, 'electron-builder.yml'), 'utf8');
    expect(yml).toMatch(/^afterPack: scripts\/electron-fuses\.cjs$/m);
    expect(typeof hook).toBe('function');
    // The hook sets exactly the checklist's fuses, and each name exists in @electron/fuses.
    expect(hook.FUSES).toEqual(EXPECTED);
    for (const name of Object.keys(EXPECTED)) expect(typeof FuseV1Options[name as keyof typeof FuseV1Options], name).toBe('number');
  });

  it('flips the fuses in a binary that holds the fuse wire, read back with @electron/fuses', async () => {
    const binary = join(dir, 'layerbench');
    // Electron's defaults: RunAsNode, NODE_OPTIONS and inspect on, the rest off (the nine fuses of a recent Electron).
    const { ENABLE, DISABLE } = FuseState;
    fakeElectron(binary, [ENABLE, DISABLE, ENABLE, ENABLE, DISABLE, DISABLE, DISABLE, ENABLE, ENABLE]);
    await hook.flipLayerbenchFuses(binary);
    const wire = (await getCurrentFuseWire(binary)) as unknown as Record<number, number>;
    for (const [name, on] of Object.entries(EXPECTED)) {
      expect(wire[FuseV1Options[name as keyof typeof FuseV1Options]], name).toBe(on ? ENABLE : DISABLE);
    }
    // Fuses Layerbench does not set keep Electron's values.
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(ENABLE);
    expect(wire[FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]).toBe(DISABLE);
  });

  it('finds the binary electron-builder packed on each platform, and fails loudly without a fuse wire', async () => {
    const packager = { appInfo: { productFilename: 'Layerbench' }, executableName: 'layerbench' };
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'linux', packager })).toBe('/o/layerbench');
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'win32', packager })).toBe('/o/Layerbench.exe');
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'darwin', packager })).toBe('/o/Layerbench.app');

    const notElectron = join(dir, 'plain');
    writeFileSync(notElectron, Buffer.alloc(4096, 0x41));
    await expect(hook({ appOutDir: dir, electronPlatformName: 'linux', packager: { ...packager, executableName: 'plain' } })).rejects.toThrow(/sentinel/);
  });
});
