/** Downloads from the renderer: a Blob through a temporary link works in Chromium and Electron alike. */
import { cssVar } from './chart-theme';

export function downloadBlob(fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke later: Chromium reads the URL after the click handler returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A chart's canvas as a PNG, on the panel colour (charts draw on a transparent canvas). */
export function canvasToPng(source: HTMLCanvasElement): Promise<Blob> {
  const out = document.createElement('canvas');
  out.width = source.width;
  out.height = source.height;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = cssVar('--panel', '#ffffff');
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(source, 0, 0);
  return new Promise((resolve, reject) => out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The chart could not be encoded as PNG'))), 'image/png'));
}

export async function downloadCanvasPng(source: HTMLCanvasElement, fileName: string): Promise<void> {
  downloadBlob(fileName.endsWith('.png') ? fileName : `${fileName}.png`, await canvasToPng(source));
}

/** File-name-safe slug: "batch_normalization_1 · mean" → "batch_normalization_1-mean". */
export function slug(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'chart'
  );
}
