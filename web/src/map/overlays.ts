// The overlay layers of the map panel: their MapLibre layers and legends.
import type { ExpressionSpecification, LayerSpecification } from 'maplibre-gl';
import { lang } from '../i18n';
import { suppressedLabel } from '../privacy';
import type { Classes } from './style';
import { NO_DATA, RAMP_GREEN_BAD_LOW, RAMP_RED, SUPPRESSED, intFmt, pctFmt, stepColor } from './style';

export type OverlayId = 'villages' | 'case_density' | 'dog_coverage' | 'dog_positivity' | 'slaughter_points' | 'hotspots' | 'scan';
export const OVERLAYS: OverlayId[] = ['villages', 'case_density', 'dog_coverage', 'dog_positivity', 'slaughter_points', 'hotspots', 'scan'];

export type HotspotStat = 'gi_star_bin' | 'lisa_cluster' | 'eb_rate';

export interface LegendItem { color: string; label: string; shape?: 'circle' | 'fill' | 'line' }
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
    hotspots: [
      { id: 'hotspots-fill', type: 'fill', source: 'hotspots',
        paint: { 'fill-color': hotspotColor('gi_star_bin'), 'fill-opacity': 0.8, 'fill-outline-color': '#7b8794' } },
    ],
    scan: [
      { id: 'scan-fill', type: 'fill', source: 'scan', paint: { 'fill-color': '#7e22ce', 'fill-opacity': 0.12 } },
      { id: 'scan-line', type: 'line', source: 'scan', paint: { 'line-color': '#7e22ce', 'line-width': 2, 'line-dasharray': [2, 1] } },
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
