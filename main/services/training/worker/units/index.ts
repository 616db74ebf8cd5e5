/** The wasm training units by the layer class they train. */
import { activation } from './activation';
import { batchNormalization } from './batch-normalization';
import { dense } from './dense';
import { dropout } from './dropout';
import { flatten } from './flatten';
import { layerNormalization } from './layer-normalization';
import type { UnitKind } from './unit';

/** A kind with its config type erased: its config() result only ever goes back to its own supports() and create(). */
const erased = <C>(kind: UnitKind<C>): UnitKind<unknown> => kind as unknown as UnitKind<unknown>;

export const UNIT_KINDS: ReadonlyMap<string, UnitKind<unknown>> = new Map(
  [erased(dense), erased(batchNormalization), erased(activation), erased(dropout), erased(flatten), erased(layerNormalization)].flatMap((kind) =>
    kind.classNames.map((name) => [name, kind] as const),
  ),
);
