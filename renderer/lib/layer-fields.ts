/**
 * Which editor each Keras config field gets in the property panel: the layer kits' field docs
 * (`model/layers/`), in Keras' get_config order; the input shape only on the first layer.
 */
import { LAYER_DEFS, type FieldDoc, type FieldEditor, type SupportedLayer } from '../../model';

export type { FieldEditor };
export type FieldMeta = FieldDoc & { field: string };

/** The editable fields of a layer type in Keras' order; the input shape only on the first layer. */
export function fieldsFor(class_name: SupportedLayer, isFirst: boolean): FieldMeta[] {
  return LAYER_DEFS[class_name].fieldDocs.filter(([field, doc]) => !doc.hidden && (field !== 'batch_input_shape' || isFirst)).map(([field, doc]) => ({ field, ...doc }));
}
