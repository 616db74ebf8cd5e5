/**
 * The model package's task-check fixes as builder edits. A Fix button applies its own edit, then
 * whatever else still blocks training on the chosen data (setting a 1-D input leaves a Flatten TF.js
 * refuses; removing Flatten from an image model leaves Dense layers on (None, 28, 28)), so one click
 * gives a model that trains; its label names every edit it makes.
 */
import { checkTask, summarize, type ModelSpec, type Task, type TaskFix } from '../../model';
import { insertLayer, removeLayer, setLayerField } from './spec-edit';

export function applyTaskFix(spec: ModelSpec, fix: TaskFix): ModelSpec {
  switch (fix.kind) {
    case 'set-input-shape':
      return setLayerField(spec, 0, 'batch_input_shape', [null, ...fix.shape]);
    case 'insert-flatten':
      return insertLayer(spec, fix.before, 'Flatten').spec;
    case 'remove-layer':
      return removeLayer(spec, fix.layer);
    case 'set-units':
      return setLayerField(spec, fix.layer, 'units', fix.units);
    case 'set-activation':
      return setLayerField(spec, fix.layer, 'activation', fix.activation);
    case 'add-output': {
      const flat = fix.flatten ? insertLayer(spec, spec.config.layers.length, 'Flatten').spec : spec;
      const { spec: next, index } = insertLayer(flat, flat.config.layers.length, 'Dense');
      return setLayerField(setLayerField(next, index, 'units', fix.units), index, 'activation', 'softmax');
    }
  }
}

/** What the edit does, in the words of a button ("Insert Flatten at the top"). */
export function fixLabel(spec: ModelSpec, fix: TaskFix): string {
  const name = (i: number) => spec.config.layers[i]?.config.name ?? `layer ${i}`;
  switch (fix.kind) {
    case 'set-input-shape':
      return `Set input to ${fix.shape.join('×')}`;
    case 'insert-flatten':
      return `Insert Flatten ${fix.before === 0 ? 'at the top' : `before ${name(fix.before)}`}`;
    case 'remove-layer':
      return `Remove ${name(fix.layer)}`;
    case 'set-units':
      return `Set units to ${fix.units}`;
    case 'set-activation':
      return `Use ${fix.activation}`;
    case 'add-output':
      return `Add ${fix.flatten ? 'Flatten + ' : ''}Dense(${fix.units}, softmax)`;
  }
}

/**
 * The fix, then each remaining blocking problem's own fix, until none is left (bounded: every step
 * removes a problem or the loop ends). Null when the result still does not train, or breaks what
 * Keras could build: no button is better than one that leaves the model worse.
 */
export function fixForTask(spec: ModelSpec, task: Task, fix: TaskFix): { spec: ModelSpec; label: string } | null {
  const labels = [fixLabel(spec, fix)];
  let next = applyTaskFix(spec, fix);
  for (let step = 0; step < spec.config.layers.length + 4; step++) {
    const blocking = checkTask(next, task).find((p) => p.blocking);
    if (!blocking) {
      const before = summarize(spec).errors.length;
      if (summarize(next).errors.length > before) return null;
      const [first, ...rest] = labels;
      return { spec: next, label: rest.length ? `${first}, ${rest.map((l) => l.charAt(0).toLowerCase() + l.slice(1)).join(', ')}` : first! };
    }
    if (!blocking.fix) return null;
    labels.push(fixLabel(next, blocking.fix));
    next = applyTaskFix(next, blocking.fix);
  }
  return null;
}
