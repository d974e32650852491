// One camera opened large, over the wall, fed by its own pull socket (WS /ws/stream/{label}/{key}):
// the full stream (no preview, no rate cap), but it asks for the next frame only after drawing the
// last, so it never receives more than it shows.
import { clock } from '../api.js';
import { h } from '../dom.js';
import { t, tr } from '../i18n.js';
import { entryIdTime } from '../server-clock.js';
import { ReconnectingSocket, type SocketState } from '../socket.js';
import { stats } from '../stats.js';
import { Tile } from '../tile.js';
import { splitFrame } from '../wire.js';

/** The service closes a silent pull socket after a minute; a ping now and then keeps it. */
const PING_EVERY_MS = 20_000;

export class CameraView {
  readonly el: HTMLElement;
  private readonly tile: Tile;
  private readonly socket: ReconnectingSocket;
  private readonly status: HTMLElement;
  private readonly ping: number;
  private readonly ticker: number;
  private waiting = false;

  constructor(readonly site: string, readonly camera: string, onBack: () => void, onRefused: (reason: string) => void) {
    this.tile = new Tile(camera, { large: true, onDrawn: () => this.pull() });
    this.labelFeed();
    this.status = h('span', { class: 'status' });
    const back = h('button', { class: 'back', type: 'button', on: { click: onBack } }, '← ', tr('large.back'));
    this.el = h(
      'section',
      { class: 'camera-view', attrs: { role: 'dialog', 'aria-label': camera } },
      h('header', { class: 'camera-head' }, back, h('h2', null, camera), this.status, h('span', { class: 'hint' }, tr('large.hint'))),
      this.tile.el,
    );
    this.socket = new ReconnectingSocket(`/ws/stream/${encodeURIComponent(site)}/${encodeURIComponent(camera)}`, {
      onOpen: () => {
        this.waiting = false;
        this.pull();
      },
      onMessage: (data) => this.onMessage(data),
      onState: (s) => this.showState(s),
      onRefused,
    });
    this.socket.start();
    this.ping = window.setInterval(() => this.socket.send('{"action":"ping"}'), PING_EVERY_MS);
    this.ticker = window.setInterval(() => this.tile.tick(clock.serverNow()), 1000);
    requestAnimationFrame(() => back.focus());
  }

  private pull(): void {
    if (this.waiting || !this.socket.isOpen) return;
    this.waiting = true;
    this.socket.send('{"action":"pull"}');
  }

  private onMessage(data: ArrayBuffer | string): void {
    if (typeof data === 'string') return; // pong, or an error about a command we never send
    stats.bytesReceived += data.byteLength;
    const f = splitFrame(data);
    this.waiting = false;
    if (!f) return this.pull();
    const stored = entryIdTime(f.header.id);
    clock.observeFrame(stored);
    this.tile.accept(f.header, f.image, stored);
  }

  private showState(s: SocketState): void {
    if (s.kind === 'open') this.status.textContent = t('wall.live');
    else if (s.kind === 'connecting') this.status.textContent = t('wall.connecting');
    else this.status.textContent = t('wall.reconnecting', { seconds: Math.max(1, Math.round((s.at - Date.now()) / 1000)) });
    this.status.dataset.state = s.kind;
  }

  private labelFeed(): void {
    this.tile.setFeed(t('feed.full'), t('feed.why_large'), null);
  }

  relabel(): void {
    this.tile.relabel();
    this.labelFeed();
  }

  destroy(): void {
    clearInterval(this.ping);
    clearInterval(this.ticker);
    this.socket.close();
    this.tile.destroy();
    this.el.remove();
  }
}
