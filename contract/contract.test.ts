import { describe, expect, it } from 'vitest';
import { commands, defaultTrainingSettings, events, HostFrameSchema, RequestFrameSchema, TrainingEventSchema, unwrapResult, ApiError } from '.';
import { seedModel1 } from '../model/presets';
import { dispatchCommand, type CommandHandlers } from '../main/services/dispatch';

describe('contract schemas', () => {
  it('accepts a well-formed training.start request', () => {
    const ok = commands['training.start'].request.safeParse({ spec: seedModel1, settings: defaultTrainingSettings });
    expect(ok.success).toBe(true);
  });

  it.each([
    ['zero epochs', { epochs: 0 }, 'settings.epochs'],
    ['fractional batch size', { batchSize: 2.5 }, 'settings.batchSize'],
    ['negative learning rate', { learningRate: -1 }, 'settings.learningRate'],
    ['NaN learning rate', { learningRate: Number.NaN }, 'settings.learningRate'],
    ['validation split of 1', { validationSplit: 1 }, 'settings.validationSplit'],
    ['a dataset id that is a path', { dataset: '../cifar' }, 'settings.dataset'],
    ['a huge subset', { trainSubset: 1e9 }, 'settings.trainSubset'],
    ['an unknown optimizer', { optimizer: { class_name: 'Nadam', config: {} } }, 'settings.optimizer.class_name'],
    ['a negative momentum', { optimizer: { class_name: 'SGD', config: { momentum: -0.5 } } }, 'settings.optimizer.config.momentum'],
    ['clipnorm 0', { optimizer: { class_name: 'Adam', config: { clipnorm: 0 } } }, 'settings.optimizer.config.clipnorm'],
    ['both clipnorm and clipvalue', { optimizer: { class_name: 'SGD', config: { clipnorm: 1, clipvalue: 1 } } }, 'settings.optimizer.config.clipvalue'],
    ['an Adagrad epsilon TF.js cannot honour', { optimizer: { class_name: 'Adagrad', config: { epsilon: 1e-8 } } }, 'settings.optimizer.config.epsilon'],
    ['a decay schedule without steps', { lrSchedule: { class_name: 'ExponentialDecay', config: { decay_rate: 0.9 } } }, 'settings.lrSchedule.config.decay_steps'],
    ['early stopping on val_loss without validation', { validationSplit: 0, earlyStopping: { monitor: 'val_loss', patience: 3 } }, 'settings.earlyStopping.monitor'],
    ['an unknown normalization', { normalization: 'whiten' }, 'settings.normalization'],
  ])('rejects %s and says where', (_label, patch, path) => {
    const bad = commands['training.start'].request.safeParse({ spec: seedModel1, settings: { ...defaultTrainingSettings, ...patch } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('rejects a spec that is not a Sequential topology', () => {
    expect(commands['training.start'].request.safeParse({ spec: { class_name: 'Functional', config: {} }, settings: defaultTrainingSettings }).success).toBe(false);
    expect(commands['training.start'].request.safeParse({ spec: seedModel1 }).success).toBe(false);
  });

  it('validates event payloads and frames', () => {
    expect(
      TrainingEventSchema.safeParse({
        type: 'batches',
        runId: 'r1',
        batches: [{ epoch: 0, batch: 0, step: 0, loss: 1, acc: 0.5 }],
        completedBatches: 1,
        totalBatches: 10,
        samplesPerSec: 100,
      }).success,
    ).toBe(true);
    expect(TrainingEventSchema.safeParse({ type: 'batches', runId: 'r1', batches: [], completedBatches: 1, totalBatches: 10, samplesPerSec: 100 }).success).toBe(false);
    expect(TrainingEventSchema.safeParse({ type: 'exploded', runId: 'r1' }).success).toBe(false);
    expect(events.training.safeParse({ type: 'finished', runId: '../../etc' }).success).toBe(false);
    expect(RequestFrameSchema.safeParse({ kind: 'request', id: 1, name: 'app.info', payload: {} }).success).toBe(true);
    expect(RequestFrameSchema.safeParse({ kind: 'request', id: 'one', name: 'app.info' }).success).toBe(false);
    expect(HostFrameSchema.safeParse({ kind: 'response', id: 1, result: { ok: true, value: 1 } }).success).toBe(true);
    expect(HostFrameSchema.safeParse({ kind: 'response', id: 1, result: { ok: 'yes' } }).success).toBe(false);
  });

  it('unwraps results on the client, turning errors and off-contract values into ApiError', () => {
    const schema = commands['training.stop'].response;
    expect(unwrapResult({ ok: true, value: { stopped: true } }, schema)).toEqual({ stopped: true });
    expect(() => unwrapResult({ ok: false, error: { code: 'failed', message: 'boom' } }, schema)).toThrow(ApiError);
    expect(() => unwrapResult({ ok: true, value: { stopped: 'maybe' } }, schema)).toThrow(/breaks the contract/);
    expect(() => unwrapResult('garbage', schema)).toThrow(/malformed result/);
  });
});

describe('dispatchCommand', () => {
  const handlers: Partial<CommandHandlers> = {
    'app.info': () => ({ name: 'Layerbench', version: '0.0.0', host: 'browser', platform: 'linux', projectsDir: '/tmp' }),
    'training.backends': () => ({ active: 'cpu', candidates: [] }),
    'training.start': () => ({ runId: 'run-1' }),
    'training.stop': () => {
      throw new Error('no such run');
    },
    // Off-contract on purpose: the dispatcher must catch it.
    'datasets.info': () => ({ id: 'mnist' }) as never,
  };

  it('runs a valid command', async () => {
    expect(await dispatchCommand(handlers, 'training.start', { spec: seedModel1, settings: defaultTrainingSettings })).toEqual({ ok: true, value: { runId: 'run-1' } });
  });

  it('answers unknown commands, bad payloads, handler failures and bad responses with typed errors', async () => {
    expect(await dispatchCommand(handlers, 'rm -rf', {})).toMatchObject({ ok: false, error: { code: 'unknown-command' } });
    expect(await dispatchCommand(handlers, '__proto__', {})).toMatchObject({ ok: false, error: { code: 'unknown-command' } });
    // A command in the contract that this host does not implement.
    expect(await dispatchCommand(handlers, 'projects.recent', {})).toMatchObject({ ok: false, error: { code: 'unknown-command' } });
    const bad = await dispatchCommand(handlers, 'training.start', { spec: seedModel1, settings: { ...defaultTrainingSettings, epochs: -1 } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-request', issues: [expect.stringMatching(/^settings\.epochs: /)] } });
    expect(await dispatchCommand(handlers, 'app.info', { extra: true })).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    expect(await dispatchCommand(handlers, 'training.stop', { runId: 'run-1' })).toEqual({ ok: false, error: { code: 'failed', name: 'Error', message: 'no such run' } });
    expect(await dispatchCommand(handlers, 'datasets.info', { id: 'fashion-mnist' })).toMatchObject({ ok: false, error: { code: 'invalid-response' } });
  });
});
