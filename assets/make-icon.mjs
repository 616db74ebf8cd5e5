#!/usr/bin/env node
/**
 * Draws the app icon (three stacked layers on a navy tile) as assets/icon.png (512×512 RGBA) and
 * assets/icon.svg, with no dependencies: signed-distance shapes, analytic anti-aliasing, and PNG
 * bytes written with node:zlib. Run `node assets/make-icon.mjs` after changing the design.
 */
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIZE = 512;
const TILE = { inset: 16, radius: 104 };
const BG_TOP = [0x12, 0x3a, 0x6b]; // navy-blue
const BG_BOTTOM = [0x0a, 0x1a, 0x36];
/** Bottom to top: blue, teal, light teal. */
const LAYERS = [
  { cy: 326, color: [0x3b, 0x82, 0xf6] },
  { cy: 256, color: [0x14, 0xb8, 0xa6] },
  { cy: 186, color: [0x5e, 0xea, 0xd4] },
];
const RHOMBUS = { halfWidth: 150, halfHeight: 78, radius: 14 };
/** Gap cut around each upper layer, so the layers read as separate sheets. */
const GAP = 10;

// --- shapes (signed distances: negative inside) -------------------------------------------------
function sdRoundedBox(px, py, cx, cy, halfW, halfH, r) {
  const qx = Math.abs(px - cx) - halfW + r;
  const qy = Math.abs(py - cy) - halfH + r;
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - r;
}

/** Inigo Quilez's exact rhombus distance, then rounded by `r`. */
function sdRhombus(px, py, cx, cy, bx, by, r) {
  bx -= r;
  by -= r;
  const x = Math.abs(px - cx);
  const y = Math.abs(py - cy);
  const ndot = (ax, ay, cx2, cy2) => ax * cx2 - ay * cy2;
  const h = Math.min(Math.max(ndot(bx - 2 * x, by - 2 * y, bx, by) / (bx * bx + by * by), -1), 1);
  const dx = x - 0.5 * bx * (1 - h);
  const dy = y - 0.5 * by * (1 + h);
  const d = Math.hypot(dx, dy) * Math.sign(x * by + y * bx - bx * by);
  return d - r;
}

/** Pixel coverage from a signed distance (one pixel wide ramp). */
const coverage = (d) => Math.min(Math.max(0.5 - d, 0), 1);
const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

// --- raster ------------------------------------------------------------------------------------
const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let y = 0; y < SIZE; y++) {
  for (let x = 0; x < SIZE; x++) {
    const px = x + 0.5;
    const py = y + 0.5;
    const half = SIZE / 2 - TILE.inset;
    const tile = coverage(sdRoundedBox(px, py, SIZE / 2, SIZE / 2, half, half, TILE.radius));
    const background = mix(BG_TOP, BG_BOTTOM, (py - TILE.inset) / (SIZE - 2 * TILE.inset));
    let color = background;
    for (const [index, layer] of LAYERS.entries()) {
      const d = sdRhombus(px, py, SIZE / 2, layer.cy, RHOMBUS.halfWidth, RHOMBUS.halfHeight, RHOMBUS.radius);
      if (index > 0) color = mix(color, background, coverage(d - GAP));
      // A faint top-to-bottom shade on each sheet.
      const shade = mix(
        layer.color,
        layer.color.map((v) => v * 0.82),
        (py - (layer.cy - RHOMBUS.halfHeight)) / (2 * RHOMBUS.halfHeight),
      );
      color = mix(color, shade, coverage(d));
    }
    const offset = (y * SIZE + x) * 4;
    rgba[offset] = Math.round(color[0]);
    rgba[offset + 1] = Math.round(color[1]);
    rgba[offset + 2] = Math.round(color[2]);
    rgba[offset + 3] = Math.round(tile * 255);
  }
}

// --- PNG ---------------------------------------------------------------------------------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0);
header.writeUInt32BE(SIZE, 4);
header[8] = 8; // bit depth
header[9] = 6; // RGBA
const rows = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) {
  rows[y * (SIZE * 4 + 1)] = 0; // filter: none
  rgba.copy(rows, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
}
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', header),
  chunk('IDAT', deflateSync(rows, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
writeFileSync(new URL('./icon.png', import.meta.url), png);

// --- SVG (same design, for docs and the web manifest) --------------------------------------------
const hex = (c) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
/** The inner rhombus (half-sizes less the corner radius); a round-joined stroke grows it back. */
const rhombusPath = (cy) => {
  const bx = RHOMBUS.halfWidth - RHOMBUS.radius;
  const by = RHOMBUS.halfHeight - RHOMBUS.radius;
  return `M${SIZE / 2 - bx} ${cy}L${SIZE / 2} ${cy - by}L${SIZE / 2 + bx} ${cy}L${SIZE / 2} ${cy + by}Z`;
};
const svgLayers = LAYERS.map((layer, index) => {
  const d = rhombusPath(layer.cy);
  const cut = index > 0 ? `<path d="${d}" fill="url(#bg)" stroke="url(#bg)" stroke-width="${2 * (RHOMBUS.radius + GAP)}" stroke-linejoin="round"/>` : '';
  return `${cut}<path d="${d}" fill="${hex(layer.color)}" stroke="${hex(layer.color)}" stroke-width="${2 * RHOMBUS.radius}" stroke-linejoin="round"/>`;
}).join('\n  ');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}">
  <defs>
    <linearGradient id="bg" gradientUnits="userSpaceOnUse" x1="0" y1="${TILE.inset}" x2="0" y2="${SIZE - TILE.inset}">
      <stop offset="0" stop-color="${hex(BG_TOP)}"/>
      <stop offset="1" stop-color="${hex(BG_BOTTOM)}"/>
    </linearGradient>
  </defs>
  <rect x="${TILE.inset}" y="${TILE.inset}" width="${SIZE - 2 * TILE.inset}" height="${SIZE - 2 * TILE.inset}" rx="${TILE.radius}" fill="url(#bg)"/>
  ${svgLayers}
</svg>
`;
writeFileSync(new URL('./icon.svg', import.meta.url), svg);
console.log(`wrote assets/icon.png (${png.length} bytes) and assets/icon.svg`);
