/**
 * Whether ONNX Runtime's native CPU library loads and runs here (the worker's backend probe): one
 * tiny session, so that a missing or broken libonnxruntime is a 'skipped' backend with its reason
 * rather than a failed run.
 */
import { GraphBuilder, onnxModelProto } from '../../../../export/onnx';
import { pinnedOrtThreads } from './engine';
import { threadCandidates, TWO_THREADS_MIN_BATCH } from './thread-choice';
import { describeExecutionProviders, probeGpuExecutionProviders, requestedExecutionProvider } from './execution-providers';

/** Relu of a two-value input 'x': the graph every probe session runs. */
export function probeModel(): { bytes: Uint8Array; output: string } {
  const g = new GraphBuilder();
  g.unique('x');
  const output = g.node('Relu', ['x'], 'y');
  const bytes = onnxModelProto(g, { graphName: 'probe', doc: 'Layerbench backend probe', inputs: [{ name: 'x', dims: [2] }], outputs: [{ name: output, dims: [2] }] });
  return { bytes, output };
}

/**
 * Runs Relu on [−1, 2] in ONNX Runtime, then tries this platform's GPU execution providers; returns
 * what the badge shows ("ONNX Runtime 1.30.0, native CPU, 1 intra-op thread (1 or 2 by timing from batch 128); GPU execution providers: cuda skipped (…)").
 */
export async function probeOnnxRuntime(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const ort = await import('onnxruntime-node');
  const { bytes, output: y } = probeModel();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) });
    const values = Array.from(out[y]!.data as Float32Array);
    if (values[0] !== 0 || values[1] !== 2) throw new Error(`ONNX Runtime computed Relu([-1, 2]) as [${values.join(', ')}]`);
  } finally {
    await session.release();
  }
  const pinned = settingOrNull(() => pinnedOrtThreads(env));
  // Unpinned, a run from TWO_THREADS_MIN_BATCH times 1 and 2 threads on its own batch size (thread-choice.ts).
  const count = pinned ?? 1;
  const timed = pinned === null && threadCandidates(TWO_THREADS_MIN_BATCH).length > 1 ? ` (1 or 2 by timing from batch ${TWO_THREADS_MIN_BATCH})` : '';
  const threads = `${count} intra-op thread${count === 1 ? '' : 's'}${timed}`;
  const cpu = `ONNX Runtime ${ort.env.versions.node ?? ort.env.versions.common}, native CPU, ${threads}`;
  return `${cpu}; ${describeExecutionProviders(
    await probeGpuExecutionProviders(ort, bytes),
    settingOrNull(() => requestedExecutionProvider(env)),
  )}`;
}

/** An environment setting for the badge, or null where it is refused: the run that reads it reports the value. */
function settingOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}
