// Stock tfjs-webgpu on a GPU host, seed model 1 with trainOnBatch: adapter, per-step time and WebGPU calls per step (the baseline beside bench/webgpu-step.ts; bundled by bench/gpu-host.sh).
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
console.log(
  'adapter',
  adapter && JSON.stringify({ vendor: adapter.info.vendor, architecture: adapter.info.architecture, description: adapter.info.description, fallback: adapter.isFallbackAdapter }),
);
const counts = { dispatch: 0, submit: 0, createBuffer: 0, writeBuffer: 0, bindGroup: 0 };
const wrap = (proto, name, key) => {
  const f = proto[name];
  proto[name] = function (...a) {
    counts[key]++;
    return f.apply(this, a);
  };
};
wrap(globals.GPUComputePassEncoder.prototype, 'dispatchWorkgroups', 'dispatch');
wrap(globals.GPUQueue.prototype, 'submit', 'submit');
wrap(globals.GPUQueue.prototype, 'writeBuffer', 'writeBuffer');
wrap(globals.GPUDevice.prototype, 'createBuffer', 'createBuffer');
wrap(globals.GPUDevice.prototype, 'createBindGroup', 'bindGroup');
const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-webgpu');
console.log('setBackend', await tf.setBackend('webgpu'), tf.getBackend());
const model = tf.sequential({
  layers: [
    tf.layers.flatten({ inputShape: [28, 28] }),
    tf.layers.batchNormalization(),
    tf.layers.dense({ units: 300, activation: 'elu', kernelInitializer: 'heNormal' }),
    tf.layers.batchNormalization(),
    tf.layers.dense({ units: 100, activation: 'elu', kernelInitializer: 'heNormal' }),
    tf.layers.batchNormalization(),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: tf.train.sgd(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
for (const batch of (process.env.BATCHES ?? '32,256,1024,4096').split(',').map(Number)) {
  const x = tf.randomUniform([batch, 28, 28]);
  const y = tf.randomUniform([batch], 0, 10, 'int32').cast('float32');
  for (let i = 0; i < 5; i++) await model.trainOnBatch(x, y);
  for (const k of Object.keys(counts)) counts[k] = 0;
  const steps = Number(process.env.STEPS ?? 20);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const ms = (performance.now() - t0) / steps;
  console.log(
    `stock tfjs-webgpu batch ${batch}: ${ms.toFixed(2)} ms/step, ${Math.round((batch / ms) * 1000)} samples/s, per step ${JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / steps])))}`,
  );
  x.dispose();
  y.dispose();
}
process.exit(0);
