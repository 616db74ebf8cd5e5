/**
 * MaxPooling2D (channels_last, padding valid/same, any pool size and strides), computed NCHW.
 * Backward as tfjs' MaxPoolGrad: each window's gradient goes to the first of its maxima in row-major
 * order (MaxPool's indices, which ONNX Runtime takes as the first strictly greater value, as tfjs'
 * maxPoolPositions does), summed where windows overlap. The index becomes the offset k inside the
 * window, the gradient a one-hot [N, C·K, H_out, W_out] (K = pool height × width), and a grouped
 * ConvTranspose with one-hot weights puts each offset's share back in place, summing overlaps.
 */
import { FLOAT, type Attr } from '../../../../../export/onnx';
import type { StepLayer } from './graph';
import { outputPadding, spatialSupport, TO_NCHW, TO_NHWC, transpose, windowOf } from './spatial';

export const maxPooling2dLayer: StepLayer = {
  support: (info, cfg) => spatialSupport(info, cfg),
  build: ({ c, info, cfg, input, needDx }) => {
    const { g } = c;
    const name = info.name;
    const pool = cfg.pool_size as number[];
    const win = windowOf(info, pool, (cfg.strides as number[] | null) ?? pool, cfg.padding as string);
    const geometry: Attr[] = [
      { name: 'kernel_shape', ints: win.size },
      { name: 'strides', ints: win.strides },
      { name: 'pads', ints: win.pads },
    ];
    const x = transpose(c, input, TO_NCHW, `${name}/x_nchw`);
    if (!needDx) return { y: transpose(c, g.node('MaxPool', [x], `${name}/max`, geometry), TO_NHWC, `${name}/y`), back: () => null };
    const [max, indices] = g.nodeOutputs('MaxPool', [x], [`${name}/max`, `${name}/indices`], geometry);
    return {
      y: transpose(c, max!, TO_NHWC, `${name}/y`),
      back: (dy) => {
        const { h, w, channels, outH, outW } = win;
        const [kh, kw] = win.size;
        const [sh, sw] = win.strides;
        const [top, left] = win.pads;
        const windowSize = kh * kw;
        const int64 = (label: string, dims: number[], values: number[]) => g.int64s(`${name}/${label}`, values, dims);
        // Indices count over the whole [N, C, H, W] tensor: the position in the image, then its row and column.
        const local = g.node('Mod', [indices!, int64('image_size', [], [h * w])], `${name}/local_index`);
        const row = g.node('Div', [local, int64('width', [], [w])], `${name}/row`);
        const col = g.node('Mod', [local, int64('width_mod', [], [w])], `${name}/col`);
        // Each output position's window starts at (i·sh − top, j·sw − left).
        const rowInWindow = g.node(
          'Sub',
          [
            row,
            int64(
              'window_rows',
              [1, 1, outH, 1],
              Array.from({ length: outH }, (_, i) => i * sh - top),
            ),
          ],
          `${name}/row_in_window`,
        );
        const colInWindow = g.node(
          'Sub',
          [
            col,
            int64(
              'window_cols',
              [1, 1, 1, outW],
              Array.from({ length: outW }, (_, j) => j * sw - left),
            ),
          ],
          `${name}/col_in_window`,
        );
        const offset = g.node('Add', [g.node('Mul', [rowInWindow, int64('pool_width', [], [kw])], `${name}/row_offset`), colInWindow], `${name}/offset`);
        const offsets = int64(
          'offsets',
          [1, 1, windowSize, 1, 1],
          Array.from({ length: windowSize }, (_, k) => k),
        );
        const oneHot = g.node(
          'Cast',
          [g.node('Equal', [g.node('Unsqueeze', [offset, int64('offset_axis', [1], [2])], `${name}/offset_5d`), offsets], `${name}/is_offset`)],
          `${name}/one_hot`,
          [{ name: 'to', i: FLOAT }],
        );
        const dyNchw = transpose(c, dy, TO_NCHW, `${name}/dy_nchw`);
        const routed = g.node('Mul', [oneHot, g.node('Unsqueeze', [dyNchw, int64('dy_axis', [1], [2])], `${name}/dy_5d`)], `${name}/routed`);
        const byOffset = g.node('Reshape', [routed, int64('by_offset_shape', [4], [0, channels * windowSize, outH, outW])], `${name}/by_offset`);
        // Weight [C·K, 1, kh, kw]: input channel c·K + k puts its value at window offset k of output channel c.
        const placement = new Float32Array(channels * windowSize * windowSize);
        for (let ch = 0; ch < channels; ch++) for (let k = 0; k < windowSize; k++) placement[(ch * windowSize + k) * windowSize + k] = 1;
        const weight = g.floats(`${name}/placement`, [channels * windowSize, 1, kh, kw], placement);
        const dx = g.node('ConvTranspose', [byOffset, weight], `${name}/dx_nchw`, [
          ...geometry,
          { name: 'group', i: channels },
          { name: 'output_padding', ints: outputPadding(win) },
        ]);
        return transpose(c, dx, TO_NHWC, `${name}/dx`);
      },
    };
  },
};
