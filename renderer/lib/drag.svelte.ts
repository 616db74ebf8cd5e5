/**
 * What is being dragged inside the builder. HTML5 drag data cannot be read during dragover (only
 * its types), yet the stack needs to know whether a drop is a new layer or a move to draw the right
 * indicator, so the palette and the stack share this instead.
 */
import type { SupportedLayer } from '../../model';

export type DragItem = { kind: 'new'; class_name: SupportedLayer } | { kind: 'move'; index: number };

export const drag = $state<{ item: DragItem | null }>({ item: null });

/** The MIME type the builder's drags carry (other apps and drop targets ignore it). */
export const DRAG_TYPE = 'application/x-layerbench-layer';
