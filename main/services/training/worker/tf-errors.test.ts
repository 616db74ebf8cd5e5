/**
 * TF.js shape errors told in the model's terms. The runs go through the worker's real training loop
 * (real tfjs, real Fashion-MNIST) without the host, whose check before Start would refuse them: what
 * reaches TF.js is what the user sees if that check ever misses a case.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type StartTraining } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { openDatasetDir } from '../../datasets/open';
import { FASHION_MNIST_SYSTEM_DIRS } from '../../datasets/fashion-mnist';
import { RunControl, runTraining } from './loop';
import type { FromWorker } from '../common/protocol';
import { explainTrainingError } from './tf-errors';

const datasetDir = FASHION_MNIST_SYSTEM_DIRS[0]!;

/** The loop's 'failed' message for a run of `spec` on 200 Fashion-MNIST images. */
async function failure(spec: ModelSpec): Promise<string> {
  const posted: FromWorker[] = [];
  const request: StartTraining = { spec, settings: { ...defaultTrainingSettings, trainSubset: 200, epochs: 1, validationSplit: 0 } };
  await runTraining(tf, {
    runId: 'r',
    request,
    weightsDir: null,
    backend: 'cpu',
    control: new RunControl(),
    datasetDir,
    loadData: () => openDatasetDir(datasetDir),
    post: (m) => posted.push(m),
  });
  const failed = posted.find((m) => m.type === 'failed');
  expect(failed, JSON.stringify(posted.map((m) => m.type))).toBeDefined();
  return failed!.type === 'failed' ? failed!.error : '';
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('explainTrainingError', () => {
  it('seed model without Flatten: the broadcast in the loss is told as the output layer, its shape and the Dense to fix', async () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers.shift();
    spec.config.layers[0]!.config.batch_input_shape = [null, 28, 28];
    const error = await failure(spec);
    expect(error).toContain('the loss compares the output of dense_2, (None, 28, 10), with one label per sample');
    expect(error).toContain('needs (None, 10)');
    expect(error).toContain('dense (layer 1): Dense gets (None, 28, 28)');
    expect(error).toContain('Insert a Flatten at the top');
    // TF.js' own words stay at the end.
    expect(error).toMatch(/\(TF\.js: Operands could not be broadcast together with shapes 32,28 and 32\.?\)$/);
  }, 60_000);

  it('a Flatten on (None, 784): the layer TF.js refuses, with its input', async () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers[0]!.config.batch_input_shape = [null, 784];
    const error = await failure(spec);
    expect(error).toMatch(/^The model does not fit the data: flatten \(layer 0\): Flatten gets \(None, 784\), which is already flat/);
    expect(error).toContain('(TF.js: Input 0 is incompatible with layer flatten: expected min_ndim=3, found ndim=2.)');
  }, 60_000);

  it('names the layers whose shapes a TF.js error quotes, and leaves other messages alone', () => {
    const real = tf.tidy(() => {
      try {
        tf.matMul(tf.zeros([32, 784]), tf.zeros([28, 300]));
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(real).toContain('inner shapes');
    const explained = explainTrainingError(real, seedModel1, null);
    expect(explained).toContain('flatten (Flatten) gets (None, 28, 28) and gives (None, 784)');
    expect(explained).toContain(`(TF.js: ${real})`);
    const own = "The model's last layer has 5 outputs, but the dataset has 10 classes";
    expect(explainTrainingError(own, seedModel1, null)).toBe(own);
  });
});
