/**
 * Conv2D (channels_last, padding valid/same, any strides, dilation 1, bias optional) and its
 * activation, computed NCHW. Backward: the input's gradient is ConvTranspose of the output
 * gradient with the same weight; the kernel's is a convolution of the input with the output
 * gradient, the batch taken as the channels ([C_in, N, H, W] ⊛ [C_out, N, H_out, W_out], the
 * strides as dilations), which yields [C_in, C_out, kh, kw] (cropped where the stride leaves rows over).
 */
import type { Attr } from '../../../../../export/onnx';
import { activate, activationSupport } from './activation';
import { kernelSettingsSupport } from './dense';
import { layerAt, sumOver, type StepLayer } from './graph';
import { outputPadding, spatialSupport, TO_NCHW, TO_NHWC, transpose, windowOf } from './spatial';

export const conv2dLayer: StepLayer = {
  support: (info, cfg, last) => {
    const dilation = cfg.dilation_rate as number[];
    if (dilation.some((d) => d !== 1)) return `${layerAt(info)}: Conv2D with dilation_rate [${dilation.join(', ')}]`;
    if (cfg.groups !== undefined && cfg.groups !== 1) return `${layerAt(info)}: Conv2D with groups ${String(cfg.groups)}`;
    return spatialSupport(info, cfg) ?? kernelSettingsSupport(info, cfg) ?? activationSupport(info, cfg, last);
  },
  build: ({ c, info, cfg, vars, input, needDx, grads }) => {
    const { g } = c;
    const name = info.name;
    const win = windowOf(info, cfg.kernel_size as number[], cfg.strides as number[], cfg.padding as string);
    const [kh, kw] = win.size;
    const kernel = vars.kernel!.name;
    const bias = vars.bias?.name;
    const geometry: Attr[] = [
      { name: 'kernel_shape', ints: win.size },
      { name: 'strides', ints: win.strides },
      { name: 'pads', ints: win.pads },
    ];
    const x = transpose(c, input, TO_NCHW, `${name}/x_nchw`);
    // Keras' kernel [kh, kw, in, out] → ONNX's weight [out, in, kh, kw].
    const weight = transpose(c, kernel, [3, 2, 0, 1], `${name}/weight`);
    const z = g.node('Conv', bias ? [x, weight, bias] : [x, weight], `${name}/z`, geometry);
    const act = activate(c, z, cfg.activation as string, name);
    return {
      y: transpose(c, act.y, TO_NHWC, `${name}/y`),
      activates: true,
      back: (dy) => {
        const dz = act.back(transpose(c, dy, TO_NCHW, `${name}/dy_nchw`));
        if (bias) grads.set(bias, sumOver(c, dz, [0, 2, 3], `${name}/dbias`));
        const inputByChannel = transpose(c, input, [3, 0, 1, 2], `${name}/x_by_channel`);
        const dzByChannel = transpose(c, dz, [1, 0, 2, 3], `${name}/dz_by_channel`);
        let dWeight = g.node('Conv', [inputByChannel, dzByChannel], `${name}/dweight_full`, [
          { name: 'kernel_shape', ints: [win.outH, win.outW] },
          { name: 'dilations', ints: win.strides },
          { name: 'pads', ints: win.pads },
        ]);
        // With strides the correlation spans up to stride − 1 more rows and columns than the kernel.
        const [t, l, b, r] = win.pads;
        if (win.h + t + b - win.strides[0] * (win.outH - 1) > kh || win.w + l + r - win.strides[1] * (win.outW - 1) > kw) {
          dWeight = g.node(
            'Slice',
            [dWeight, g.int64s(`${name}/dweight_start`, [0, 0]), g.int64s(`${name}/dweight_end`, [kh, kw]), g.int64s(`${name}/dweight_axes`, [2, 3])],
            `${name}/dweight`,
          );
        }
        // [in, out, kh, kw] → Keras' [kh, kw, in, out].
        grads.set(kernel, transpose(c, dWeight, [2, 3, 0, 1], `${name}/dkernel`));
        if (!needDx) return null;
        const dx = g.node('ConvTranspose', [dz, weight], `${name}/dx_nchw`, [...geometry, { name: 'output_padding', ints: outputPadding(win) }]);
        return transpose(c, dx, TO_NHWC, `${name}/dx`);
      },
    };
  },
};
