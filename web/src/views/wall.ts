// The live wall of one site: one push socket (WS /ws/labels/{label}?wait=true&with_id=true, with
// the preview size and rate the feed chooser picked) for every camera, a tile per camera (new
// cameras appear as their first frame arrives), a status line that says when it is reconnecting
// and how old the picture is, the site's safety events beside it, and one camera opened large.
import { clock } from '../api.js';
import { h } from '../dom.js';
import { FeedChooser } from '../feed-chooser.js';
import { formatAge, onLanguageChange, t, tr } from '../i18n.js';
import { routeHash, type Route } from '../routes.js';
import { entryIdTime } from '../server-clock.js';
import { ReconnectingSocket, type SocketState } from '../socket.js';
import { stats } from '../stats.js';
import { Tile } from '../tile.js';
import { feedQuery, WALL_QUALITIES, type WallFeed, type WallQuality } from '../wall-feed.js';
import { splitFrame } from '../wire.js';
import { CameraView } from './camera-view.js';
import { EventsPanel } from './events-panel.js';
import type { View } from './view.js';

/** Narrowest a tile gets (the grid's minmax in style.css): the guess of a tile's width before there is one. */
const TILE_MIN_WIDTH = 300;

/** What a feed is, in words: the tile's line and its tooltip. */
export function feedText(feed: WallFeed, cameras: number): { text: string; why: string } {
  if (feed.rendition === 'full') return { text: t('feed.full'), why: t('feed.why_full') };
  return {
    text: t('feed.preview', { width: feed.width, fps: feed.maxFps }),
    why: t('feed.why', { cameras, mbps: Math.round(feed.budgetMbps * 10) / 10 }),
  };
}

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
  /** Beside the wall: the site's safety events. */
  readonly aside: HTMLElement;
  private readonly events: EventsPanel;
  private readonly tiles = new Map<string, Tile>();
  private readonly socket: ReconnectingSocket;
  private readonly chooser: FeedChooser;
  private readonly gridSize: ResizeObserver;
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
    this.chooser = new FeedChooser(site, () => this.shape(), (feed) => this.feedChanged(feed));
    const quality = h(
      'select',
      { name: 'quality', class: 'quality', on: { change: () => this.chooser.setQuality(quality.value as WallQuality) } },
      ...WALL_QUALITIES.map((q) => h('option', { value: q, selected: q === this.chooser.setting }, tr(`feed.quality.${q}`))),
    );
    this.events = new EventsPanel(site, (camera) => this.open(camera));
    this.aside = h('aside', { class: 'wall-aside' }, this.events.el);
    this.el = h(
      'section',
      { class: 'wall-view' },
      h(
        'div',
        { class: 'wall-head' },
        h('a', { href: routeHash({ name: 'sites' }), class: 'crumb' }, '← ', tr('wall.back')),
        h('h1', null, site),
        this.count,
        h('label', { class: 'quality-setting' }, h('span', null, tr('feed.quality')), quality),
      ),
      this.status,
      h('div', { class: 'wall-body' }, h('div', { class: 'wall-main' }, this.empty, this.grid), this.aside),
    );
    this.visibility = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const cam = (e.target as HTMLElement).dataset.camera;
        if (cam !== undefined) this.tiles.get(cam)?.setVisible(e.isIntersecting);
      }
    });
    this.socket = new ReconnectingSocket(this.socketPath(this.chooser.feed), {
      onMessage: (d) => this.onMessage(d),
      onState: (s) => {
        this.state = s;
        if (s.kind === 'retrying' && !s.opened) void this.chooser.refused(this.socket.currentPath);
        this.renderStatus();
      },
      onRefused: (reason) => opts.onRefused(site, reason),
    });
    this.socket.start();
    this.gridSize = new ResizeObserver(() => this.chooser.schedule());
    this.gridSize.observe(this.grid);
    this.ticker = window.setInterval(() => this.tick(), 1000);
    document.addEventListener('keydown', this.onKey);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.offLanguage = onLanguageChange(() => {
      for (const tile of this.tiles.values()) tile.relabel();
      this.labelFeeds();
      this.large?.relabel();
      this.renderStatus();
    });
    this.renderStatus();
    this.update(route);
  }

  private socketPath(feed: WallFeed): string {
    const q = feedQuery(feed);
    return `/ws/labels/${encodeURIComponent(this.site)}?wait=true&with_id=true${q ? `&${q}` : ''}`;
  }

  /** The tile size and the number of cameras, for the feed chooser. */
  private shape(): { tileWidth: number; cameras: number } {
    const first = this.tiles.values().next().value as Tile | undefined;
    const grid = this.grid.clientWidth;
    const tileWidth = first?.pictureWidth || grid / Math.max(1, Math.floor(grid / TILE_MIN_WIDTH)) || TILE_MIN_WIDTH;
    return { tileWidth, cameras: this.tiles.size };
  }

  /** Another preview size or rate: the wall socket reopens with it (tiles keep their frames meanwhile). */
  private feedChanged(feed: WallFeed): void {
    this.socket.setPath(this.socketPath(feed));
    this.labelFeeds();
  }

  private labelFeeds(): void {
    const feed = this.chooser.feed;
    const { text, why } = feedText(feed, this.chooser.cameras());
    const width = feed.rendition === 'preview' ? feed.width : null;
    for (const tile of this.tiles.values()) tile.setFeed(text, why, width);
  }

  private onMessage(data: ArrayBuffer | string): void {
    if (typeof data === 'string') {
      // A camera removed from the site (DELETE /streams): its tile goes. ("No keys found" comes only
      // from an old server, which wait=true avoids.)
      let msg: { removed?: unknown } = {};
      try {
        msg = JSON.parse(data) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.removed === 'string') this.removeTile(msg.removed);
      return;
    }
    stats.bytesReceived += data.byteLength;
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
    this.chooser.schedule(); // another camera: maybe another rate
    this.tiles.set(camera, tile);
    // Cameras in name order, so tiles keep their places.
    const after = [...this.tiles.keys()].sort().find((k) => k > camera);
    const next = after === undefined ? null : this.tiles.get(after)!.el;
    this.grid.insertBefore(tile.el, next);
    this.visibility.observe(tile.el);
    this.labelFeeds();
    this.renderStatus();
    return tile;
  }

  private removeTile(camera: string): void {
    const tile = this.tiles.get(camera);
    if (!tile) return;
    this.visibility.unobserve(tile.el);
    tile.destroy();
    tile.el.remove();
    this.tiles.delete(camera);
    this.chooser.schedule(); // one camera fewer: maybe another rate
    this.renderStatus();
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
    this.chooser.destroy();
    this.gridSize.disconnect();
    this.events.destroy();
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
