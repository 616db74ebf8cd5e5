/** The wasm training units by the layer class they train. */
import { activation } from './activation';
import { batchNormalization } from './batch-normalization';
import { dense } from './dense';
import { dropout } from './dropout';
import { flatten } from './flatten';
import type { UnitKind } from './unit';

const KINDS: UnitKind<unknown>[] = [dense, batchNormalization, activation, dropout, flatten] as UnitKind<never>[] as UnitKind<unknown>[];

export const UNIT_KINDS: ReadonlyMap<string, UnitKind<unknown>> = new Map(KINDS.flatMap((kind) => kind.classNames.map((name) => [name, kind] as const)));
