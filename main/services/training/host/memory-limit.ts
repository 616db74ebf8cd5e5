/**
 * The limit a model's training-memory estimate (model/memory.ts) is held to before the model is
 * built: half this machine's memory, or $LAYERBENCH_MAX_MODEL_MEMORY in bytes. A model of many
 * layers, each under the per-layer limit, can still total more than the machine holds; refusing it
 * with a message beats building it until memory runs out.
 */
import { totalmem } from 'node:os';
import type { OptimizerSettings } from '../../../../contract/training';
import { DomainError } from '../../../../contract/wire';
import { estimateTrainingMemory, type MemoryEstimate } from '../../../../model/memory';
import type { ModelSummary } from '../../../../model/summary';
import { formatBytes } from '../../files/bounded-read';

export const MODEL_MEMORY_ENV = 'LAYERBENCH_MAX_MODEL_MEMORY';

/** $LAYERBENCH_MAX_MODEL_MEMORY (bytes) when set, else half of `total` (the machine's memory). */
export function modelMemoryLimit(env: NodeJS.ProcessEnv = process.env, total: number = totalmem()): number {
  const raw = env[MODEL_MEMORY_ENV];
  if (raw === undefined || raw === '') return Math.floor(total / 2);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new DomainError('invalid-input', `${MODEL_MEMORY_ENV} must be a number of bytes (a positive whole number), got "${raw.slice(0, 40)}"`);
  return value;
}

/** "1,176,000,000 parameters: 4.4 GiB of weights, 4.4 GiB of gradients, …" */
export function describeEstimate(estimate: MemoryEstimate): string {
  const parts = [`${formatBytes(estimate.weightBytes)} of weights`];
  if (estimate.gradientBytes) parts.push(`${formatBytes(estimate.gradientBytes)} of gradients`);
  if (estimate.optimizerBytes) parts.push(`${formatBytes(estimate.optimizerBytes)} of optimizer state (${estimate.optimizerSlots} per weight)`);
  parts.push(`${formatBytes(estimate.activationBytes)} of activations for a batch of ${estimate.batchSize}`);
  return `${estimate.params.toLocaleString('en-US')} parameters: ${parts.join(', ')}`;
}

/**
 * Throws a DomainError 'limit' when training (with `optimizer`; building alone without) would need
 * more than the limit. Arithmetic on the summary only: called before anything is allocated.
 */
export function checkModelMemory(summary: ModelSummary, options: { batchSize: number; optimizer?: OptimizerSettings }, limitBytes = modelMemoryLimit()): MemoryEstimate {
  const estimate = estimateTrainingMemory(summary, options);
  if (estimate.totalBytes > limitBytes) {
    const source = process.env[MODEL_MEMORY_ENV] ? MODEL_MEMORY_ENV : `half this machine's memory; set ${MODEL_MEMORY_ENV} in bytes to change it`;
    throw new DomainError(
      'limit',
      `The model is too large: ${options.optimizer ? 'training' : 'building'} it needs about ${formatBytes(estimate.totalBytes)} (${describeEstimate(estimate)}), more than the limit of ${formatBytes(limitBytes)} (${source}). Use fewer or smaller layers${options.optimizer ? ', or a smaller batch' : ''}.`,
    );
  }
  return estimate;
}
