/**
 * Picks the bridge: Electron's preload puts the API on `window.layerbench`; in a plain browser
 * (`layerbench serve`) we connect a WebSocket to the page's own origin. The rest of the renderer
 * sees only `LayerbenchApi` and never knows which.
 */
import { fromBridge, type LayerbenchApi } from '../../contract';
import { connectWebSocket } from './websocket';

export { DISCONNECTED_EVENT } from './websocket';

declare global {
  interface Window {
    layerbench?: LayerbenchApi;
  }
}

export async function connectHost(): Promise<LayerbenchApi> {
  // The preload rejects with plain error bodies (contextBridge keeps no Error's code): ApiErrors again here.
  if (window.layerbench) return fromBridge(window.layerbench);
  const url = new URL('api', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  // The server set an HttpOnly cookie with the token when it served this page; the socket sends it.
  return connectWebSocket(url.href);
}
