// Photograph-like test frames for the wall rows: a preview's size and cost depend on the picture,
// so these are 1280×720 JPEGs of about 100 KB made of what a site camera sees (sky, ground,
// buildings with windows, machines, cones, sensor grain), not small images padded to size.
// Made once per bench run with sharp; the JPEG quality is searched so that each is close to the
// target size.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

function rng(seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** Raw RGB pixels of one synthetic site scene. */
function scene(width, height, seed) {
  const r = rng(seed);
  const px = Buffer.alloc(width * height * 3);
  const horizon = Math.round(height * (0.35 + 0.15 * r()));
  const set = (x, y, c) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    px[i] = c[0]; px[i + 1] = c[1]; px[i + 2] = c[2];
  };
  // Sky and ground, with a slow texture on the ground.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c;
      if (y < horizon) {
        const t = y / horizon;
        c = [110 + 90 * t, 150 + 70 * t, 210 + 30 * t];
      } else {
        const t = (y - horizon) / (height - horizon);
        const tex = 18 * Math.sin(x / 23 + y / 7) * Math.sin(y / 13 - x / 41);
        c = [120 + 40 * t + tex, 100 + 30 * t + tex, 70 + 20 * t + tex];
      }
      set(x, y, c);
    }
  }
  // Buildings with window grids along the horizon.
  for (let b = 0; b < 7; b++) {
    const w = 80 + Math.floor(r() * 160), h = 60 + Math.floor(r() * horizon * 0.9);
    const x0 = Math.floor(r() * (width - w)), y0 = horizon - h;
    const grey = 90 + r() * 100;
    for (let y = y0; y < horizon; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const win = (x - x0) % 18 < 9 && (y - y0) % 22 < 11;
        const g = win ? grey * 0.45 : grey;
        set(x, y, [g, g * 0.98, g * 1.04]);
      }
    }
  }
  // Machines (yellow blocks) and cones (orange triangles) on the ground.
  for (let m = 0; m < 3; m++) {
    const w = 120 + Math.floor(r() * 120), h = 60 + Math.floor(r() * 60);
    const x0 = Math.floor(r() * (width - w)), y0 = horizon + 20 + Math.floor(r() * (height - horizon - h - 20));
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) set(x, y, [220 - (y - y0), 180 - (y - y0), 30]);
  }
  for (let k = 0; k < 12; k++) {
    const cx = Math.floor(r() * width), base = horizon + 30 + Math.floor(r() * (height - horizon - 40)), h = 20 + Math.floor(r() * 30);
    for (let dy = 0; dy < h; dy++) for (let dx = -dy / 3; dx <= dy / 3; dx++) set(Math.round(cx + dx), base - h + dy, dy % 10 < 5 ? [240, 110, 20] : [245, 245, 245]);
  }
  // Sensor grain everywhere.
  for (let i = 0; i < px.length; i++) px[i] = Math.max(0, Math.min(255, px[i] + (r() - 0.5) * 26));
  return px;
}

/** One photo-like JPEG near `targetBytes`. */
export async function makePhoto(seed, { width = 1280, height = 720, targetBytes = 100_000 } = {}) {
  const raw = await sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } }).blur(0.6).png({ compressionLevel: 0 }).toBuffer();
  let lo = 20, hi = 98, best = null;
  while (lo <= hi) {
    const q = (lo + hi) >> 1;
    const jpg = await sharp(raw).jpeg({ quality: q }).toBuffer();
    if (!best || Math.abs(jpg.length - targetBytes) < Math.abs(best.length - targetBytes)) best = jpg;
    if (jpg.length < targetBytes) lo = q + 1; else hi = q - 1;
  }
  return best;
}

/** Writes `count` distinct photos to `dir` as cam-<i>.jpg; returns their sizes. */
export async function writePhotos(dir, count, opts) {
  fs.mkdirSync(dir, { recursive: true });
  const sizes = [];
  for (let i = 0; i < count; i++) {
    const jpg = await makePhoto(i + 1, opts);
    fs.writeFileSync(path.join(dir, `cam-${i}.jpg`), jpg);
    sizes.push(jpg.length);
  }
  return sizes;
}
