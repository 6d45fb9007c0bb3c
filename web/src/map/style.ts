// The offline style: every source is this server's own tiles or GeoJSON. No glyphs URL: with none,
// MapLibre draws every label locally with TinySDF from the fonts the browser has (Noto Sans CJK
// on Debian via fonts-noto-cjk), so no glyph, sprite or font request ever leaves the page.
import type { StyleSpecification, ExpressionSpecification } from 'maplibre-gl';

export const FONT_FAMILY = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif';

export const NO_DATA = '#c8ccd0';
export const SUPPRESSED = '#9aa5b1';

/** A graduated legend: class breaks (lower bounds) and colours; `unit` formats the labels. */
export interface Classes {
  breaks: number[];
  colors: string[];
  format: (v: number) => string;
  /** Whole numbers: classes read "1–2", not "1 – 3". */
  discrete?: boolean;
}

export const pctFmt = (v: number) => `${Math.round(v * 1000) / 10}%`;
export const intFmt = (v: number) => v.toLocaleString();

export const RAMP_RED = ['#fee5d9', '#fcae91', '#fb6a4a', '#de2d26', '#a50f15'];
export const RAMP_BLUE = ['#eff3ff', '#bdd7e7', '#6baed6', '#3182bd', '#08519c'];
export const RAMP_GREEN_BAD_LOW = ['#d7191c', '#fdae61', '#ffffbf', '#a6d96a', '#1a9641'];

/** `step` over a numeric expression, with `nodata` where it is null or negative. */
export function stepColor(value: ExpressionSpecification, c: Classes, nodata = NO_DATA): ExpressionSpecification {
  const steps: (number | string)[] = [];
  c.breaks.slice(1).forEach((b, i) => steps.push(b, c.colors[i + 1]));
  // to-number: some tile fields arrive as strings (counts that PostgreSQL computes as bigint).
  const v: ExpressionSpecification = ['to-number', ['coalesce', value, -1], -1];
  return ['case', ['<', v, 0], nodata, ['step', v, c.colors[0], ...steps] as unknown as ExpressionSpecification];
}

export function tileUrl(layer: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt${s ? `?${s}` : ''}`;
}

export const BOUNDS: [number, number, number, number] = [80.3, 43.0, 82.0, 44.3];
/** Qapqal county (DOMAIN.md §4): the first view. */
export const COUNTY: [number, number, number, number] = [80.55, 43.3, 81.7, 43.95];

export function baseStyle(): StyleSpecification {
  return {
    version: 8,
    name: 'echinomap offline',
    sources: {
      boundaries: { type: 'vector', tiles: [tileUrl('boundaries')], minzoom: 0, maxzoom: 14, bounds: BOUNDS },
      rivers: { type: 'vector', tiles: [tileUrl('rivers')], minzoom: 0, maxzoom: 14, bounds: BOUNDS },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#dfe6e9' } },
      {
        id: 'neighbours-fill', type: 'fill', source: 'boundaries', 'source-layer': 'boundaries',
        filter: ['==', ['get', 'kind'], 'neighbour'], paint: { 'fill-color': '#eceee9' },
      },
      {
        id: 'county-fill', type: 'fill', source: 'boundaries', 'source-layer': 'boundaries',
        filter: ['==', ['get', 'kind'], 'county'], paint: { 'fill-color': '#fbfaf4' },
      },
      {
        id: 'rivers-line', type: 'line', source: 'rivers', 'source-layer': 'rivers',
        paint: { 'line-color': '#6fa8dc', 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 1.2, 12, 4] },
      },
      {
        id: 'townships-line', type: 'line', source: 'boundaries', 'source-layer': 'boundaries',
        filter: ['==', ['get', 'kind'], 'township'],
        paint: { 'line-color': '#9aa5b1', 'line-width': 1, 'line-dasharray': [3, 2] },
      },
      {
        id: 'neighbours-line', type: 'line', source: 'boundaries', 'source-layer': 'boundaries',
        filter: ['==', ['get', 'kind'], 'neighbour'], paint: { 'line-color': '#b8bfc6', 'line-width': 1 },
      },
      {
        id: 'county-line', type: 'line', source: 'boundaries', 'source-layer': 'boundaries',
        filter: ['==', ['get', 'kind'], 'county'], paint: { 'line-color': '#52606d', 'line-width': 2 },
      },
    ],
  };
}

/** Labels go on top of every overlay; added last. */
export const LABEL_LAYERS = [
  {
    id: 'rivers-label', type: 'symbol', source: 'rivers', 'source-layer': 'rivers', minzoom: 8,
    layout: { 'symbol-placement': 'line', 'text-field': ['get', 'name'], 'text-size': 12, 'text-font': ['sans-serif'] },
    paint: { 'text-color': '#2f6fa8', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
  },
  {
    id: 'neighbours-label', type: 'symbol', source: 'boundaries', 'source-layer': 'boundaries',
    filter: ['==', ['get', 'kind'], 'neighbour'],
    layout: { 'text-field': ['get', 'name'], 'text-size': 13, 'text-font': ['sans-serif'], 'symbol-placement': 'point' },
    paint: { 'text-color': '#7b8794', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
  },
  {
    id: 'townships-label', type: 'symbol', source: 'township-points',
    layout: { 'text-field': ['get', 'name'], 'text-size': ['interpolate', ['linear'], ['zoom'], 8, 11, 12, 15], 'text-font': ['sans-serif'] },
    paint: { 'text-color': '#1f2933', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
  },
  {
    id: 'villages-label', type: 'symbol', source: 'villages', 'source-layer': 'villages', minzoom: 10.5,
    layout: { 'text-field': ['get', 'name'], 'text-size': 11, 'text-font': ['sans-serif'], 'text-offset': [0, 1.1], 'text-anchor': 'top', 'text-optional': true },
    paint: { 'text-color': '#3e4c59', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
  },
] as const;
