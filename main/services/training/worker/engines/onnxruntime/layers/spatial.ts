/**
 * What Conv2D and MaxPooling2D share: Keras tensors are channels_last (NHWC), ONNX's Conv and
 * MaxPool are NCHW, so each layer transposes in and out (ONNX Runtime's transpose optimizer cancels
 * the pairs between neighbouring layers); 'same' padding as explicit pads, split as TensorFlow does.
 */
import { samePads } from '../../../../../../../model/layers/onnx';
import type { ModelLayerInfo } from '../../../../../export/weights';
import { layerAt, type Cfg, type Ctx } from './graph';

export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

export function transpose(c: Ctx, t: string, perm: number[], name: string): string {
  return c.g.node('Transpose', [t], name, [{ name: 'perm', ints: perm }]);
}

/** A 2-D window's geometry over a fixed-size input. */
export interface Window {
  /** Input height, width and channels. */
  h: number;
  w: number;
  channels: number;
  /** Output height and width. */
  outH: number;
  outW: number;
  size: [number, number];
  strides: [number, number];
  /** ONNX's [top, left, bottom, right]. */
  pads: [number, number, number, number];
}

export function windowOf(info: ModelLayerInfo, size: number[], strides: number[], padding: string): Window {
  const [, h, w, channels] = info.input_shape as number[];
  const [, outH, outW] = info.output_shape as number[];
  const [t, b] = padding === 'same' ? samePads(h!, size[0]!, strides[0]!, 1) : [0, 0];
  const [l, r] = padding === 'same' ? samePads(w!, size[1]!, strides[1]!, 1) : [0, 0];
  return { h: h!, w: w!, channels: channels!, outH: outH!, outW: outW!, size: [size[0]!, size[1]!], strides: [strides[0]!, strides[1]!], pads: [t, l, b, r] };
}

/**
 * ConvTranspose's output_padding that gives back the window's input size exactly
 * (a strided window's output size alone leaves up to stride − 1 rows ambiguous).
 */
export function outputPadding(win: Window): number[] {
  const [t, l, b, r] = win.pads;
  return [win.h - (win.strides[0] * (win.outH - 1) + win.size[0] - t - b), win.w - (win.strides[1] * (win.outW - 1) + win.size[1] - l - r)];
}

/** Why a channels_last 2-D layer is outside the step (rank and data format), or null. */
export function spatialSupport(info: ModelLayerInfo, cfg: Cfg): string | null {
  if (info.input_shape.length !== 4) return `${layerAt(info)} (${info.class_name}) gets a rank-${info.input_shape.length} input`;
  if (cfg.data_format !== undefined && cfg.data_format !== 'channels_last') return `${layerAt(info)}: data_format ${String(cfg.data_format)}`;
  return null;
}
