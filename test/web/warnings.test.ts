// Warnings as words: both shapes, unknown codes, and every catalogue complete against English.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatWarnings, humanizeCode, KNOWN_CODES } from '../../web/src/warnings.js';
import { interpolate, lookupIn, pickLanguage, type Catalogue } from '../../web/src/i18n-core.js';

const dir = path.join(import.meta.dirname, '../../web/src/locales');
const catalogues: Record<string, Catalogue> = Object.fromEntries(
  fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Catalogue]),
);
const en = lookupIn(catalogues.en!);
const zh = lookupIn(catalogues['zh-TW']!);

describe('warning formatting', () => {
  it('turns the code-object shape into sentences with counts', () => {
    const w = formatWarnings('{"warning_no_hardhat": {"count": 2}, "warning_close_to_machinery": {"count": 1}}', en);
    expect(w.map((x) => x.sentence)).toEqual(['2 people are not wearing a hardhat', '1 person is too close to machinery']);
    expect(w.map((x) => x.label)).toEqual(['No hardhat', 'Too close to machinery']);
    expect(w.map((x) => x.code)).toEqual(['warning_no_hardhat', 'warning_close_to_machinery']);
  });

  it('uses the wording of the detectors for every known code', () => {
    const all = formatWarnings(JSON.stringify(Object.fromEntries(KNOWN_CODES.map((c) => [c, { count: 3 }]))), en).map((x) => x.sentence);
    expect(all).toEqual([
      '3 people are not wearing a hardhat',
      '3 people are not wearing a mask',
      '3 people are not wearing a safety vest',
      '3 people are too close to machinery',
      '3 people are too close to vehicles',
      '3 people have entered the controlled area',
      '3 people have entered the utility pole restricted area',
      '3 machines are too close to the utility pole',
    ]);
  });

  it('gives an unknown code a readable name, never the raw code', () => {
    const [fire, crane] = formatWarnings('{"warning_fire": {"count": 1}, "detect_crane_overload": {"count": 2, "severity": "high"}}', en);
    expect(fire).toMatchObject({ code: 'warning_fire', label: 'Fire', sentence: 'Fire: 1' });
    expect(crane).toMatchObject({ label: 'Crane overload', sentence: 'Crane overload: 2' });
    expect(humanizeCode('warning_people_on_roof_edge')).toBe('People on roof edge');
    expect(humanizeCode('SMOKE')).toBe('SMOKE');
  });

  it('accepts the older sentence-list shape, translating sentences it recognises', () => {
    const raw = '["Warning: Someone is not wearing a hardhat!", "Warning: 2 people are too close to machinery!", "Scaffold is missing a guard rail"]';
    expect(formatWarnings(raw, en).map((x) => x.sentence)).toEqual(['No hardhat', '2 people are too close to machinery', 'Scaffold is missing a guard rail']);
    expect(formatWarnings(raw, zh).map((x) => x.sentence)).toEqual(['未戴安全帽', '有 2 人太靠近機具', 'Scaffold is missing a guard rail']);
  });

  it('switches language with the catalogue', () => {
    const raw = '{"warning_no_safety_vest": {"count": 4}, "warning_smoke": {"count": 1}}';
    expect(formatWarnings(raw, zh).map((x) => x.sentence)).toEqual(['有 4 人未穿安全背心', 'Smoke：1']);
  });

  it('takes counts as numbers, digit strings or bare numbers; a zero count is no warning; no count shows the label', () => {
    const w = formatWarnings('{"warning_no_mask": {"count": "5"}, "warning_no_hardhat": 1, "warning_close_to_vehicle": {"count": 0}, "warning_people_in_controlled_area": {}}', en);
    expect(w.map((x) => x.sentence)).toEqual(['5 people are not wearing a mask', '1 person is not wearing a hardhat', 'In restricted area']);
  });

  it('returns nothing for empty, [] and non-JSON warnings, and bounds what one frame may carry', () => {
    expect(formatWarnings('', en)).toEqual([]);
    expect(formatWarnings('[]', en)).toEqual([]);
    expect(formatWarnings('{}', en)).toEqual([]);
    expect(formatWarnings('{oops', en)).toEqual([]);
    expect(formatWarnings(JSON.stringify(Array.from({ length: 500 }, (_, i) => `sentence ${i}`)), en)).toHaveLength(50);
  });
});

describe('catalogues', () => {
  const english = catalogues.en!;
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it('include English and Traditional Chinese', () => {
    expect(Object.keys(catalogues)).toEqual(expect.arrayContaining(['en', 'zh-TW']));
  });

  it.each(Object.keys(catalogues).filter((c) => c !== 'en'))('%s has every key of English, no other, with the same placeholders', (code) => {
    const cat = catalogues[code]!;
    const missing = Object.keys(english).filter((k) => !(k in cat));
    const extra = Object.keys(cat).filter((k) => !(k in english));
    expect(missing, `${code} lacks`).toEqual([]);
    expect(extra, `${code} has unknown`).toEqual([]);
    for (const [k, v] of Object.entries(english)) {
      expect(typeof cat[k], `${code} ${k}`).toBe('string');
      expect(cat[k]!.trim(), `${code} ${k} is empty`).not.toBe('');
      expect(placeholders(cat[k]!), `${code} ${k} placeholders`).toEqual(placeholders(v));
    }
  });

  it('English names every known warning code, every class and the unknown fallbacks', () => {
    for (const c of KNOWN_CODES) for (const k of ['label', 'sentence', 'sentence_one']) expect(english[`warning.${c}.${k}`], `${c}.${k}`).toBeTruthy();
    for (let i = 0; i <= 10; i++) expect(english[`class.${i}`]).toBeTruthy();
    expect(english['class.2']).toBe('NO-Hardhat');
    expect(english['warning.unknown.label']).toContain('{name}');
  });

  it('interpolates placeholders and picks a language from the browser', () => {
    expect(interpolate('{count} people, {missing}', { count: 2 })).toBe('2 people, {missing}');
    const available = Object.keys(catalogues);
    expect(pickLanguage(null, ['zh-TW', 'en'], available)).toBe('zh-TW');
    expect(pickLanguage(null, ['zh-Hant-HK'], available)).toBe('zh-TW');
    expect(pickLanguage(null, ['de-DE', 'en-GB'], available)).toBe('en');
    expect(pickLanguage(null, ['de-DE'], available)).toBe('en');
    expect(pickLanguage('zh-TW', ['en-US'], available)).toBe('zh-TW');
    expect(pickLanguage('xx', ['en-US'], available)).toBe('en');
  });
});
