// The live wall of one site: one push socket (WS /ws/labels/{label}?wait=true&with_id=true) for
// every camera, a tile per camera (new cameras appear as their first frame arrives), a status line
// that says when it is reconnecting and how old the picture is, and one camera opened large.
import { clock } from '../api.js';
import { h } from '../dom.js';
import { formatAge, onLanguageChange, t, tr } from '../i18n.js';
import { routeHash, type Route } from '../routes.js';
import { entryIdTime } from '../server-clock.js';
import { ReconnectingSocket, type SocketState } from '../socket.js';
import { Tile } from '../tile.js';
import { splitFrame } from '../wire.js';
import { CameraView } from './camera-view.js';
import type { View } from './view.js';

export interface WallOptions {
  /** The socket was refused for good (1008): the app returns to the login page with the reason. */
  onRefused(site: string, reason: string): void;
}

export class WallView implements View {
  readonly el: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly status: HTMLElement;
  private readonly count: HTMLElement;
  private readonly empty: HTMLElement;
  /** Room beside the wall for later panels (a site's events). */
  readonly aside: HTMLElement;
  private readonly tiles = new Map<string, Tile>();
  private readonly socket: ReconnectingSocket;
  private readonly visibility: IntersectionObserver;
  private readonly ticker: number;
  private readonly offLanguage: () => void;
  private state: SocketState = { kind: 'connecting' };
  private large: CameraView | null = null;
  /** Whether the open camera was reached from this wall (then Esc goes back in history). */
  private openedHere = false;
  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && this.large) this.closeLarge();
  };
  private readonly onVisibility = () => this.pumpAll();

  constructor(readonly site: string, route: Route, private readonly opts: WallOptions) {
    this.status = h('p', { class: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.count = h('span', { class: 'count' });
    this.empty = h('p', { class: 'empty' }, tr('wall.waiting'));
    this.grid = h('div', { class: 'wall' });
    this.aside = h('aside', { class: 'wall-aside', hidden: true });
    this.el = h(
      'section',
      { class: 'wall-view' },
      h('div', { class: 'wall-head' }, h('a', { href: routeHash({ name: 'sites' }), class: 'crumb' }, '← ', tr('wall.back')), h('h1', null, site), this.count),
      this.status,
      h('div', { class: 'wall-body' }, h('div', { class: 'wall-main' }, this.empty, this.grid), this.aside),
    );
    this.visibility = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const cam = (e.target as HTMLElement).dataset.camera;
        if (cam !== undefined) this.tiles.get(cam)?.setVisible(e.isIntersecting);
      }
    });
    this.socket = new ReconnectingSocket(`/ws/labels/${encodeURIComponent(site)}?wait=true&with_id=true`, {
      onMessage: (d) => this.onMessage(d),
      onState: (s) => {
        this.state = s;
        this.renderStatus();
      },
      onRefused: (reason) => opts.onRefused(site, reason),
    });
    this.socket.start();
    this.ticker = window.setInterval(() => this.tick(), 1000);
    document.addEventListener('keydown', this.onKey);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.offLanguage = onLanguageChange(() => {
      for (const tile of this.tiles.values()) tile.relabel();
      this.large?.relabel();
      this.renderStatus();
    });
    this.renderStatus();
    this.update(route);
  }

  private onMessage(data: ArrayBuffer | string): void {
    if (typeof data === 'string') return; // only an old server's "No keys found", which wait=true avoids
    const f = splitFrame(data);
    if (!f || typeof f.header.key !== 'string') return;
    const stored = entryIdTime(f.header.id);
    clock.observeFrame(stored);
    this.tileFor(f.header.key).accept(f.header, f.image, stored);
  }

  private tileFor(camera: string): Tile {
    let tile = this.tiles.get(camera);
    if (tile) return tile;
    tile = new Tile(camera, { onOpen: (c) => this.open(c), startHidden: true });
    if (this.large) tile.setPaused(true);
    this.tiles.set(camera, tile);
    // Cameras in name order, so tiles keep their places.
    const after = [...this.tiles.keys()].sort().find((k) => k > camera);
    const next = after === undefined ? null : this.tiles.get(after)!.el;
    this.grid.insertBefore(tile.el, next);
    this.visibility.observe(tile.el);
    this.renderStatus();
    return tile;
  }

  private pumpAll(): void {
    for (const tile of this.tiles.values()) tile.pump();
  }

  private tick(): void {
    const now = clock.serverNow();
    for (const tile of this.tiles.values()) tile.tick(now);
    this.renderStatus();
  }

  private renderStatus(): void {
    const n = this.tiles.size;
    this.count.textContent = n > 0 ? t('wall.cameras', { count: n }) : '';
    this.empty.hidden = n > 0 || this.state.kind !== 'open';
    let text = '';
    const s = this.state;
    if (s.kind === 'connecting') text = t('wall.connecting');
    else if (s.kind === 'retrying') {
      const secs = Math.max(1, Math.round((s.at - Date.now()) / 1000));
      text = s.code === 1013 ? t('wall.unavailable') : t('wall.reconnecting', { seconds: secs });
      const newest = Math.max(...[...this.tiles.values()].map((x) => x.lastFrameAt).filter(Number.isFinite));
      if (Number.isFinite(newest)) text += ` ${t('wall.stale', { age: formatAge(clock.serverNow() - newest) })}`;
    } else text = n > 0 ? t('wall.live') : '';
    this.status.textContent = text;
    this.status.dataset.state = s.kind;
  }

  /** Takes wall ↔ camera route changes of this site in place (the wall socket stays open). */
  update(route: Route): boolean {
    if (route.name === 'wall' && route.site === this.site) {
      this.hideLarge();
      return true;
    }
    if (route.name === 'camera' && route.site === this.site) {
      if (this.large?.camera !== route.camera) this.showLarge(route.camera);
      return true;
    }
    return false;
  }

  private open(camera: string): void {
    this.openedHere = true;
    location.hash = routeHash({ name: 'camera', site: this.site, camera });
  }

  /** Esc or the back button: back in history when the camera was opened from here, else to the wall. */
  private closeLarge(): void {
    if (this.openedHere) {
      this.openedHere = false;
      history.back();
    } else location.replace(routeHash({ name: 'wall', site: this.site }));
  }

  private showLarge(camera: string): void {
    this.hideLarge();
    this.large = new CameraView(this.site, camera, () => this.closeLarge(), (reason) => this.opts.onRefused(this.site, reason));
    this.el.append(this.large.el);
    document.body.classList.add('has-large');
    // The wall behind is covered: it keeps only the newest frame per camera, undecoded.
    for (const tile of this.tiles.values()) tile.setPaused(true);
  }

  private hideLarge(): void {
    if (!this.large) return;
    this.large.destroy();
    this.large = null;
    document.body.classList.remove('has-large');
    for (const tile of this.tiles.values()) tile.setPaused(false);
  }

  destroy(): void {
    this.hideLarge();
    this.socket.close();
    clearInterval(this.ticker);
    this.visibility.disconnect();
    document.removeEventListener('keydown', this.onKey);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.offLanguage();
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    this.el.remove();
  }
}
