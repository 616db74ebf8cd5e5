/**
 * The layer kits by class name, as tfjs-layers' `registerClass` keeps its layer classes. Kits are
 * registered by `all.ts`; `defineKit` derives a kit's field docs and zod config schema.
 */
import { z } from 'zod';
import { DRAFT_VALUE, SHARED_FIELDS, boundedJson, fieldType } from './fields';
import type { FieldDoc, LayerKit, LayerKitDef } from './kit';

const KITS = new Map<string, LayerKit>();

/** The kit of a layer type from its definition: field docs, known fields and config schema. */
export function defineKit<C extends string>(def: LayerKitDef<C>): LayerKit<C> {
  const defaults = def.defaults();
  const knownFields = [...new Set(['name', 'trainable', 'batch_input_shape', ...def.required, ...Object.keys(defaults)])];
  const fieldDocs: [string, FieldDoc][] = [];
  const shape: Record<string, z.ZodType> = {};
  const draft: Record<string, z.ZodType> = {};
  for (const field of knownFields) {
    const doc = def.fields?.[field] ?? SHARED_FIELDS[field];
    if (!doc) throw new Error(`${def.class_name}: no field doc for '${field}'`);
    fieldDocs.push([field, doc]);
    const keras = field in defaults ? ` Keras default: ${JSON.stringify(defaults[field])}.` : field === 'trainable' ? ' Keras default: true.' : '';
    const type = field === 'name' ? fieldType(doc) : fieldType(doc).optional();
    shape[field] = type.describe(`${doc.hint}.${keras}`);
    draft[field] = field === 'name' ? type : z.union([fieldType(doc), DRAFT_VALUE]).optional();
  }
  const layer = (config: Record<string, z.ZodType>) =>
    z.object({ class_name: z.literal(def.class_name), config: z.object(config).catchall(boundedJson(3)) }).catchall(boundedJson(3));
  return { ...def, schema: layer(shape), draftSchema: layer(draft), fieldDocs, knownFields };
}

/** Registers a kit under its class name; a second kit for the same name is a programming error. */
export function registerLayerKit(kit: LayerKit): void {
  if (KITS.has(kit.class_name)) throw new Error(`layer kit ${kit.class_name} is registered twice`);
  KITS.set(kit.class_name, kit);
}

/** The kit of a class name, or undefined for a layer type Layerbench does not know. */
export function layerKit(className: unknown): LayerKit | undefined {
  return typeof className === 'string' ? KITS.get(className) : undefined;
}

/** Every registered kit, in registration order. */
export function layerKits(): LayerKit[] {
  return [...KITS.values()];
}
