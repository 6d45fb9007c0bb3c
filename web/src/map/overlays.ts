// The overlay layers of the map panel: their MapLibre layers and legends.
import type { ExpressionSpecification, LayerSpecification } from 'maplibre-gl';
import { lang } from '../i18n';
import { suppressedLabel } from '../privacy';
import type { Classes } from './style';
import { NO_DATA, RAMP_GREEN_BAD_LOW, RAMP_RED, SUPPRESSED, intFmt, pctFmt, stepColor } from './style';

export type OverlayId = 'villages' | 'case_density' | 'dog_coverage' | 'dog_positivity' | 'slaughter_points' | 'hotspots' | 'scan';
export const OVERLAYS: OverlayId[] = ['villages', 'case_density', 'dog_coverage', 'dog_positivity', 'slaughter_points', 'hotspots', 'scan'];

export type HotspotStat = 'gi_star_bin' | 'lisa_cluster' | 'eb_rate';

/** `line`: a dashed line (the stylesheet's), `solid`: a solid line, `ring`: a hollow circle. */
export interface LegendItem { color: string; label: string; shape?: 'circle' | 'fill' | 'line' | 'solid' | 'ring' }

/** The inline style of a legend swatch. */
export function swatchStyle(i: LegendItem): Record<string, string> {
  if (i.shape === 'line') return { borderColor: i.color };
  if (i.shape === 'solid') return { borderColor: i.color, borderTopStyle: 'solid' };
  if (i.shape === 'ring') return { background: 'transparent', border: `2px solid ${i.color}`, borderRadius: '50%', width: '10px', height: '10px' };
  return { background: i.color };
}
/** The class of a legend swatch. */
export const swatchClass = (i: LegendItem) => (i.shape === 'solid' ? 'line' : i.shape === 'ring' ? 'circle' : i.shape ?? 'fill');
export interface Legend { id: OverlayId; title: string; items: LegendItem[] }

const zh = () => lang.value === 'zh';

export const CASES: Classes = { breaks: [0, 1, 3, 5, 10], colors: ['#fdf0ea', '#fcae91', '#fb6a4a', '#de2d26', '#a50f15'], format: intFmt, discrete: true };
export const COVERAGE: Classes = { breaks: [0, 0.5, 0.7, 0.8, 0.9], colors: RAMP_GREEN_BAD_LOW, format: pctFmt };
export const POSITIVITY: Classes = { breaks: [0, 0.02, 0.05, 0.1, 0.2], colors: RAMP_RED, format: pctFmt };
export const SLAUGHTER: Classes = { breaks: [0, 0.02, 0.05, 0.1, 0.2], colors: RAMP_RED, format: pctFmt };
export const EB_RATE: Classes = { breaks: [0, 0.001, 0.005, 0.01, 0.05], colors: RAMP_RED, format: pctFmt };

export const GI_BINS: [number, string, string, string][] = [
  [-3, '#2166ac', '冷点 99%', 'cold spot 99%'],
  [-2, '#67a9cf', '冷点 95%', 'cold spot 95%'],
  [-1, '#d1e5f0', '冷点 90%', 'cold spot 90%'],
  [0, '#f7f7f7', '不显著', 'not significant'],
  [1, '#fddbc7', '热点 90%', 'hot spot 90%'],
  [2, '#ef8a62', '热点 95%', 'hot spot 95%'],
  [3, '#b2182b', '热点 99%', 'hot spot 99%'],
];
export const LISA: [string, string, string, string][] = [
  ['HH', '#d7191c', '高-高', 'high-high'],
  ['LL', '#2c7bb6', '低-低', 'low-low'],
  ['HL', '#fdae61', '高-低', 'high-low'],
  ['LH', '#abd9e9', '低-高', 'low-high'],
  ['ns', '#f0f0f0', '不显著', 'not significant'],
];

export function classItems(c: Classes, withNoData = true, suppressed = false): LegendItem[] {
  const items = c.breaks.map((b, i) => {
    const next = c.breaks[i + 1];
    if (c.discrete) {
      const hi = next === undefined ? undefined : next - 1;
      return { color: c.colors[i], label: hi === undefined ? `≥ ${c.format(b)}` : hi === b ? c.format(b) : `${c.format(b)}–${c.format(hi)}` };
    }
    return { color: c.colors[i], label: next === undefined ? `≥ ${c.format(b)}` : `${c.format(b)} – ${c.format(next)}` };
  });
  if (suppressed) items.push({ color: SUPPRESSED, label: suppressedLabel(zh()) });
  if (withNoData) items.push({ color: NO_DATA, label: zh() ? '无数据' : 'no data' });
  return items;
}

const isPoly: ExpressionSpecification = ['==', ['geometry-type'], 'Polygon'];
const isPoint: ExpressionSpecification = ['==', ['geometry-type'], 'Point'];
const ISLAND: ExpressionSpecification = ['boolean', ['get', 'island'], false];
/** A scan cluster is drawn as significant unless the answer says otherwise. */
export const SIGNIFICANT: ExpressionSpecification = ['boolean', ['get', 'significant'], true];
export const SCAN_COLOR = '#7e22ce';
export const SCAN_NS_COLOR = '#7b8794';

export function hotspotColor(stat: HotspotStat): ExpressionSpecification {
  if (stat === 'gi_star_bin') {
    return ['match', ['coalesce', ['get', 'gi_star_bin'], 99], ...GI_BINS.flatMap(([b, c]) => [b, c]), NO_DATA] as unknown as ExpressionSpecification;
  }
  if (stat === 'lisa_cluster') {
    return ['match', ['coalesce', ['get', 'lisa_cluster'], ''], ...LISA.flatMap(([k, c]) => [k, c]), NO_DATA] as unknown as ExpressionSpecification;
  }
  return stepColor(['get', 'eb_rate'], EB_RATE);
}

/** The MapLibre layers of each overlay, bottom to top within the overlay. */
export function overlayLayers(villageColor: ExpressionSpecification): Record<OverlayId, LayerSpecification[]> {
  const caseColor: ExpressionSpecification = ['case', ['boolean', ['get', 'suppressed'], false], SUPPRESSED, stepColor(['get', 'cases'], CASES)];
  return {
    case_density: [
      { id: 'case-fill', type: 'fill', source: 'case_density', 'source-layer': 'case_density', filter: isPoly,
        paint: { 'fill-color': caseColor, 'fill-opacity': 0.85, 'fill-outline-color': '#c0392b' } },
      { id: 'case-circle', type: 'circle', source: 'case_density', 'source-layer': 'case_density', filter: isPoint,
        paint: { 'circle-color': caseColor, 'circle-radius': ['interpolate', ['linear'], ['coalesce', ['get', 'cases'], 0], 0, 5, 10, 14], 'circle-stroke-color': '#7f1d1d', 'circle-stroke-width': 1 } },
    ],
    dog_coverage: [
      { id: 'dog-fill', type: 'fill', source: 'dog_density', 'source-layer': 'dog_density', filter: isPoly,
        paint: { 'fill-color': stepColor(['get', 'coverage'], COVERAGE), 'fill-opacity': 0.7, 'fill-outline-color': '#ffffff' } },
      { id: 'dog-circle', type: 'circle', source: 'dog_density', 'source-layer': 'dog_density', filter: isPoint,
        paint: { 'circle-color': stepColor(['get', 'coverage'], COVERAGE), 'circle-radius': 9, 'circle-stroke-color': '#334e68', 'circle-stroke-width': 1 } },
    ],
    dog_positivity: [
      { id: 'dogpos-fill', type: 'fill', source: 'dog_positivity',
        paint: { 'fill-color': stepColor(['get', 'eb_rate'], POSITIVITY), 'fill-opacity': 0.7, 'fill-outline-color': '#ffffff' } },
    ],
    // H3 cells and townships as polygons, villages as circles (issue 22); an island (no
    // neighbour, never tested) is a hollow grey circle or a hatched-looking pale polygon.
    hotspots: [
      { id: 'hotspots-fill', type: 'fill', source: 'hotspots', filter: isPoly,
        paint: { 'fill-color': hotspotColor('gi_star_bin'), 'fill-opacity': ['case', ISLAND, 0.25, 0.8], 'fill-outline-color': '#52606d' } },
      { id: 'hotspots-circle', type: 'circle', source: 'hotspots', filter: isPoint,
        paint: {
          'circle-color': hotspotColor('gi_star_bin'),
          'circle-opacity': ['case', ISLAND, 0, 0.95],
          // A halo wider than the village dot drawn over it (villages-circle: 2.5, 4, 8 px), so
          // that the Gi* or LISA colour reads around the dot's own indicator colour.
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 7, 6.5, 9, 10, 12, 16],
          'circle-stroke-color': ['case', ISLAND, '#7b8794', '#52606d'],
          'circle-stroke-width': ['case', ISLAND, 1.5, 0.75],
        } },
    ],
    // Significant clusters solid purple; the others (asked for with show=all) dashed grey,
    // labelled 不显著 (`label` is set by the page in the reader's language). `active`: the
    // space-time clusters whose window holds the slider's month (the page sets the opacities).
    scan: [
      { id: 'scan-fill', type: 'fill', source: 'scan', filter: SIGNIFICANT, paint: { 'fill-color': SCAN_COLOR, 'fill-opacity': 0.14 } },
      { id: 'scan-line', type: 'line', source: 'scan', filter: SIGNIFICANT, paint: { 'line-color': SCAN_COLOR, 'line-width': 2.5 } },
      { id: 'scan-ns-line', type: 'line', source: 'scan', filter: ['!', SIGNIFICANT],
        paint: { 'line-color': SCAN_NS_COLOR, 'line-width': 1.5, 'line-dasharray': [3, 2] } },
      { id: 'scan-label', type: 'symbol', source: 'scan',
        layout: { 'text-field': ['coalesce', ['get', 'label'], ''], 'text-size': 12, 'text-font': ['sans-serif'], 'symbol-placement': 'point', 'text-allow-overlap': true },
        paint: { 'text-color': ['case', SIGNIFICANT, SCAN_COLOR, '#52606d'], 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 } },
    ],
    slaughter_points: [
      { id: 'slaughter-circle', type: 'circle', source: 'slaughter_points', 'source-layer': 'slaughter_points',
        paint: {
          'circle-color': stepColor(['get', 'infection_rate'], SLAUGHTER),
          'circle-radius': 7,
          'circle-stroke-color': ['case', ['>', ['coalesce', ['get', 'not_disposed'], 0], 0], '#b91c1c', '#1f2933'],
          'circle-stroke-width': ['case', ['>', ['coalesce', ['get', 'not_disposed'], 0], 0], 3, 1],
        } },
    ],
    villages: [
      { id: 'villages-circle', type: 'circle', source: 'villages', 'source-layer': 'villages',
        paint: {
          'circle-color': villageColor,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 7, 2.5, 9, 4, 12, 8],
          'circle-stroke-color': '#243b53',
          'circle-stroke-width': 1,
        } },
    ],
  };
}

/** Drawing order, bottom first. */
export const ORDER: OverlayId[] = ['case_density', 'dog_coverage', 'dog_positivity', 'hotspots', 'scan', 'slaughter_points', 'villages'];
