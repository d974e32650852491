// Overlay geometry of the viewer: coordinate space, letterboxing, boxes and polygons.
import { describe, expect, it } from 'vitest';
import { confidencePercent, frameSpace, letterbox, parseDetections, parsePolygons, screenRect, toScreen } from '../../web/src/overlay.js';

describe('overlay geometry', () => {
  it('takes the coordinate space from the header, or the image when width or height is 0 or junk', () => {
    const img = { width: 320, height: 180 };
    expect(frameSpace('1280', '720', img)).toEqual({ width: 1280, height: 720 });
    expect(frameSpace(1920, 1080, img)).toEqual({ width: 1920, height: 1080 });
    expect(frameSpace('0', '0', img)).toEqual(img);
    expect(frameSpace('1280', '0', img)).toEqual(img);
    expect(frameSpace(undefined, undefined, img)).toEqual(img);
    expect(frameSpace('12a', '-5', img)).toEqual(img);
  });

  it('letterboxes a wide frame in a tall box and pillarboxes a tall one, centred, aspect kept', () => {
    expect(letterbox({ width: 1600, height: 900 }, { width: 800, height: 800 })).toEqual({ scale: 0.5, x: 0, y: 175, width: 800, height: 450 });
    expect(letterbox({ width: 640, height: 640 }, { width: 600, height: 300 })).toEqual({ scale: 300 / 640, x: 150, y: 0, width: 300, height: 300 });
    expect(letterbox({ width: 0, height: 10 }, { width: 100, height: 100 }).scale).toBe(0);
    expect(letterbox({ width: 10, height: 10 }, { width: 0, height: 100 }).scale).toBe(0);
  });

  it('maps frame pixels to the screen through the fit', () => {
    const fit = letterbox({ width: 1280, height: 720 }, { width: 640, height: 480 }); // scale 0.5, y 60
    expect(toScreen(fit, [0, 0])).toEqual([0, 60]);
    expect(toScreen(fit, [1280, 720])).toEqual([640, 420]);
    expect(screenRect(fit, { x1: 200, y1: 100, x2: 100, y2: 300, confidence: 1, classId: 0 })).toEqual({ x: 50, y: 110, width: 50, height: 100 });
  });

  it('reads detection rows, ignoring extra columns and malformed rows', () => {
    const rows = parseDetections('[[1, 2, 30, 40, 0.9, 2, 7], [5, 5, 6], "x", [1, 2, 3, 4, "0.5", 1], [0, 0, 10, 10, 0.5, 4.0]]');
    expect(rows).toEqual([
      { x1: 1, y1: 2, x2: 30, y2: 40, confidence: 0.9, classId: 2 },
      { x1: 0, y1: 0, x2: 10, y2: 10, confidence: 0.5, classId: 4 },
    ]);
    expect(parseDetections('')).toEqual([]);
    expect(parseDetections('not json')).toEqual([]);
    expect(parseDetections('{"a": 1}')).toEqual([]);
    expect(parseDetections(JSON.stringify(Array.from({ length: 2000 }, () => [0, 0, 1, 1, 1, 0])))).toHaveLength(500);
  });

  it('reads polygons of at least three points', () => {
    expect(parsePolygons('[[[0, 0], [10, 0], [10, 10]], [[1, 1], [2, 2]], [[0, 0], ["a", 1], [5, 5], [9, 1]]]')).toEqual([
      [[0, 0], [10, 0], [10, 10]],
      [[0, 0], [5, 5], [9, 1]],
    ]);
    expect(parsePolygons('[]')).toEqual([]);
    expect(parsePolygons(null)).toEqual([]);
  });

  it('shows confidence as a percent', () => {
    expect(confidencePercent(0.876)).toBe(88);
    expect(confidencePercent(1)).toBe(100);
    expect(confidencePercent(93)).toBe(93);
  });
});
