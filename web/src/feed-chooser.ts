// The wall's feed choice in the page (the policy itself is wall-feed.ts): the user's setting,
// remembered in the browser; the tile size, the number of cameras and the connection, re-read when
// they change and settled for a second first (a resize or the first burst of cameras asks once,
// not at every step); and the service's bound on preview widths, learnt when it refuses one.
import { chooseFeed, DEFAULT_MAX_WIDTH, maxWidthFromRefusal, sameFeed, WALL_QUALITIES, type ConnectionInfo, type WallFeed, type WallQuality } from './wall-feed.js';

const QUALITY_KEY = 'framestream.wall.quality';
const CAMERAS_KEY = 'framestream.wall.cameras';
/** Sites whose camera count is remembered (for the first choice before the cameras are known). */
const REMEMBERED_SITES = 50;
/** Before any camera is known: a wall of this many. */
const GUESS_CAMERAS = 16;
const SETTLE_MS = 1000;

/** The widest preview the service accepts, once it said so (for every wall of this page). */
let learntMaxWidth = DEFAULT_MAX_WIDTH;
const probed = new Set<string>();

function storageGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode: kept for this page only */
  }
}

export function savedQuality(): WallQuality {
  const q = storageGet(QUALITY_KEY);
  return (WALL_QUALITIES as readonly string[]).includes(q ?? '') ? (q as WallQuality) : 'auto';
}

function rememberedCameras(site: string): number | null {
  try {
    const n = (JSON.parse(storageGet(CAMERAS_KEY) ?? '{}') as Record<string, unknown>)[site];
    return typeof n === 'number' && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function rememberCameras(site: string, n: number): void {
  let map: Record<string, number> = {};
  try {
    map = JSON.parse(storageGet(CAMERAS_KEY) ?? '{}') as Record<string, number>;
  } catch {
    /* start again */
  }
  if (map[site] === n) return;
  delete map[site];
  map[site] = n; // newest last: the oldest are dropped first
  const sites = Object.keys(map);
  for (const s of sites.slice(0, Math.max(0, sites.length - REMEMBERED_SITES))) delete map[s];
  storageSet(CAMERAS_KEY, JSON.stringify(map));
}

type Connection = ConnectionInfo & EventTarget;
function connection(): Connection | null {
  return (navigator as Navigator & { connection?: Connection }).connection ?? null;
}

export interface WallShape {
  /** Width of a tile's picture in CSS pixels. */
  tileWidth: number;
  /** Cameras on the wall so far (0 before the first frame). */
  cameras: number;
}

export class FeedChooser {
  private current: WallFeed;
  private quality = savedQuality();
  private timer: number | null = null;
  private readonly onConnection = () => this.schedule();

  constructor(
    private readonly site: string,
    private readonly measure: () => WallShape,
    private readonly onChange: (feed: WallFeed) => void,
  ) {
    this.current = this.choose();
    connection()?.addEventListener('change', this.onConnection);
  }

  get feed(): WallFeed {
    return this.current;
  }

  get setting(): WallQuality {
    return this.quality;
  }

  /** The number of cameras the choice was made for. */
  cameras(): number {
    return this.measure().cameras || rememberedCameras(this.site) || GUESS_CAMERAS;
  }

  private choose(): WallFeed {
    const { tileWidth } = this.measure();
    return chooseFeed({
      quality: this.quality,
      tileWidth,
      devicePixelRatio: window.devicePixelRatio || 1,
      cameras: this.cameras(),
      connection: connection(),
      maxWidth: learntMaxWidth,
    });
  }

  /** The user's setting: applied at once and remembered. */
  setQuality(q: WallQuality): void {
    this.quality = q;
    storageSet(QUALITY_KEY, q);
    this.recheck();
  }

  /** Something the choice depends on changed: look again once things have settled. */
  schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      this.timer = null;
      const n = this.measure().cameras;
      if (n > 0) rememberCameras(this.site, n);
      this.recheck();
    }, SETTLE_MS);
  }

  private recheck(): void {
    const next = this.choose();
    if (sameFeed(next, this.current)) return;
    this.current = next;
    this.onChange(next);
  }

  /**
   * The socket at `path` closed before it opened. A refusal before the upgrade (HTTP 400) is all a
   * browser sees of a parameter the service does not accept; the same address as plain HTTP says
   * which (options are read before the token). A preview wider than the service allows is the one
   * the page cannot know in advance: learn the bound and ask again.
   */
  async refused(path: string): Promise<void> {
    if (this.current.rendition !== 'preview' || probed.has(path) || probed.size > 100) return;
    probed.add(path); // once an answer came, asking again would say the same
    let detail = '';
    try {
      const res = await fetch(path, { cache: 'no-store' });
      if (res.status !== 400) return;
      detail = String(((await res.json()) as { detail?: unknown }).detail ?? '');
    } catch {
      probed.delete(path); // unreachable: ask at the next refusal
      return;
    }
    const bound = maxWidthFromRefusal(detail);
    if (bound === null || bound >= learntMaxWidth) return;
    learntMaxWidth = bound;
    this.recheck();
  }

  destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    connection()?.removeEventListener('change', this.onConnection);
  }
}
