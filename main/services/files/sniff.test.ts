/**
 * File types told from real files: Layerbench's own HDF5 and ONNX exports, an ONNX model written by
 * the onnx Python package, Fashion-MNIST's gzip and IDX files, JSON and CSV text, a PNG, and bytes
 * that are none of these.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kerasH5Bytes } from '../export/h5';
import { onnxModelBytes } from '../export/onnx';
import { FASHION_MNIST_DIR, tiny, tinyWeights } from '../export/test-support';
import { fileTypeOf, notAModelReason, sniffFile } from './sniff';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layerbench-sniff-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const bytes = (s: string) => new TextEncoder().encode(s);

describe('fileTypeOf', () => {
  it("Layerbench's own exports", async () => {
    expect(fileTypeOf(await kerasH5Bytes(tiny, tinyWeights()))).toBe('hdf5');
    expect(fileTypeOf(onnxModelBytes(tiny, tinyWeights()))).toBe('onnx');
  });

  it.skipIf(spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status !== 0)('an ONNX model written by the onnx package', async () => {
    const path = join(dir, 'identity.onnx');
    const script = `
import sys, onnx
from onnx import helper, TensorProto
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
onnx.save(helper.make_model(graph, producer_name="test"), sys.argv[1])
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(await sniffFile(path)).toBe('onnx');
    expect(notAModelReason('onnx')).toMatch(/^this is an ONNX file; Layerbench exports ONNX but does not import it/);
  });

  it("Fashion-MNIST's gzip files and the IDX files inside", async () => {
    const gz = await readFile(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
    expect(fileTypeOf(gz)).toBe('gzip');
    expect(fileTypeOf(gunzipSync(gz).subarray(0, 4096))).toBe('idx');
  });

  it('text, JSON, images, archives, empty and unknown bytes', () => {
    expect(fileTypeOf(bytes('{"format": "layerbench-project"}'))).toBe('json');
    expect(fileTypeOf(bytes('\uFEFF  [1, 2]'))).toBe('json');
    expect(fileTypeOf(bytes('label,pixel1\n3,255\n'))).toBe('text');
    expect(fileTypeOf(bytes('étiquette;valeur\n'))).toBe('text');
    expect(fileTypeOf(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('png');
    expect(fileTypeOf(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(fileTypeOf(Uint8Array.from([0x50, 0x4b, 0x03, 0x04]), 'model.keras')).toBe('keras-archive');
    expect(fileTypeOf(Uint8Array.from([0x50, 0x4b, 0x03, 0x04]), 'data.zip')).toBe('zip');
    expect(fileTypeOf(new Uint8Array(0))).toBe('empty');
    expect(fileTypeOf(Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 256))).toBe('binary');
    // A TF.js weights.bin (float32 values) is binary too.
    expect(fileTypeOf(new Uint8Array(Float32Array.from([0.5, -1.25, 3e-3, 7]).buffer))).toBe('binary');
  });

  it('HDF5 after a user block, on disk', async () => {
    const h5 = await kerasH5Bytes(tiny, tinyWeights());
    const path = join(dir, 'user-block.h5');
    const withBlock = new Uint8Array(512 + h5.length);
    withBlock.set(Uint8Array.from({ length: 512 }, (_, i) => (i * 31 + 7) % 256));
    withBlock.set(h5, 512);
    await writeFile(path, withBlock);
    expect(await sniffFile(path)).toBe('hdf5');
  });
});
