/**
 * Imports a trained model from another tool (a TF.js model.json + weights, or a Keras .h5) as a
 * run: its weights land in the run's weights folder in TF.js format, so the Runs view can evaluate
 * and export it and a new run can fine-tune from it (StartTraining.initialWeightsFrom).
 */
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { defaultTrainingSettings, type RunSummary } from '../../../contract';
import type { ModelSpec } from '../../../model/spec';
import { importModel } from '../export';
import { tfjsArtifacts } from '../export/tfjs';
import { writeFileAtomic } from '../files/atomic';
import type { RunStoreApi } from './types';
import { DomainError } from '../../../contract/wire';

export async function importModelAsRun(runs: RunStoreApi, path: string): Promise<{ run: RunSummary; spec: ModelSpec }> {
  const imported = await importModel(path);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const runId = `import-${stamp}-${randomBytes(2).toString('hex')}`;
  const writer = await runs.create({
    runId,
    spec: imported.spec,
    // A Keras file's optimizer and learning rate carry over, so fine-tuning continues as it was compiled.
    settings: { ...defaultTrainingSettings, ...(imported.training ?? {}) },
    backend: `imported ${imported.format}`,
    name: `Imported ${basename(path)}`,
  });
  try {
    const { modelJson, weightsBin } = tfjsArtifacts(imported.spec, imported.weights);
    await writeFileAtomic(join(writer.weightsDir, 'weights.bin'), weightsBin);
    await writeFileAtomic(join(writer.weightsDir, 'model.json'), modelJson);
    await writer.setStatus('finished');
  } catch (error) {
    await writer.setStatus('failed', { error: `Import failed: ${error instanceof Error ? error.message : String(error)}` });
    throw error;
  }
  const run = (await runs.list()).find((r) => r.runId === runId);
  if (!run) throw new DomainError('not-found', `Imported run ${runId} is missing from the workspace`);
  return { run, spec: imported.spec };
}
