// The hotspot and scan panels' model: what the dashboard asks of GET /api/hotspots, /api/scan and
// /api/scan/space-time, and the answers' summaries worded for an epidemiologist (issue 22):
// the weights in words, islands, the multiple-testing correction, and why nothing is significant
// (the server's `diagnosis` codes, worded here in the reader's language; an unknown code falls
// back to the server's English sentence).
import { lang } from '../i18n';

const zh = () => lang.value === 'zh';
const P = (z: string, e: string) => (zh() ? z : e);

/** The unit of the hotspot analysis: villages (points), townships (polygons), H3 cells. */
export type HsUnit = 'village' | 'township' | 'h3';
/** The spatial weights: the kinds valid for each unit are `WEIGHTS_FOR[unit]`. */
export type HsWeights = 'knn' | 'distance' | 'contiguity' | 'ring';
export type Correction = 'fdr' | 'bonferroni' | 'none';

export const WEIGHTS_FOR: Record<HsUnit, HsWeights[]> = {
  village: ['knn', 'distance'],
  township: ['contiguity', 'knn', 'distance'],
  h3: ['ring', 'knn', 'distance'],
};

/** The weights a unit starts on (the server's default for it). */
export const DEFAULT_WEIGHTS: Record<HsUnit, HsWeights> = { village: 'knn', township: 'contiguity', h3: 'ring' };

/** The panel's choices (the request's parameters, before defaults are dropped). */
export interface HotspotOptions {
  layer: string;
  unit: HsUnit;
  weights: HsWeights;
  k: number;
  /** Empty: the server's automatic band (the smallest that leaves no unit without a neighbour). */
  band_km: string;
  ring: number;
  resolution: number;
  variable: 'eb_rate' | 'rate' | 'count';
  correction: Correction;
  alpha: number;
}

/** The query of GET /api/hotspots: only the parameters that apply to the unit and weights. */
export function hotspotQuery(o: HotspotOptions, from: string, to: string): Record<string, string | number> {
  // Never a combination the server refuses: weights that do not fit the unit are its default.
  const weights = WEIGHTS_FOR[o.unit].includes(o.weights) ? o.weights : DEFAULT_WEIGHTS[o.unit];
  const q: Record<string, string | number> = { layer: o.layer, unit: o.unit, weights, from, to, variable: o.variable, correction: o.correction };
  if (o.alpha !== 0.05) q.alpha = o.alpha;
  if (weights === 'knn') q.k = Math.min(30, Math.max(1, Math.round(o.k || 5)));
  if (weights === 'distance' && String(o.band_km).trim() !== '' && Number(o.band_km) > 0) q.band_km = Number(o.band_km);
  if (o.unit === 'h3') {
    q.resolution = o.resolution;
    if (weights === 'ring') q.ring = o.ring;
  }
  return q;
}

/** `weights` of the answer (WeightsInfo). */
export interface WeightsInfo {
  kind: string; k?: number | null; band_km?: number | null; ring?: number | null;
  min_neighbors: number; max_neighbors: number; mean_neighbors: number;
}
/** One reason or suggestion of a `diagnosis`. */
export interface Coded { code: string; params?: Record<string, unknown> | null; message?: string }
export interface Diagnosis { significant: number; reasons: Coded[]; suggestions: Coded[] }

/** The collection properties of GET /api/hotspots. */
export interface HotspotsInfo {
  layer?: string; unit?: HsUnit; variable?: string; weights?: WeightsInfo | null;
  n?: number; testable?: number; islands?: { code?: string; h3_cell?: string; name?: string | null }[];
  alpha?: number; correction?: Correction; cases?: number | null;
  diagnosis?: Diagnosis | null; resolution?: number; ring?: number;
}

const num = (v: unknown, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(d)) : '?');

/** The weights in words: "K近邻 k=5", "距离带 12.3 km（自动）", "邻接（后共点）", "H3 环 ring=1". */
export function weightsText(w: WeightsInfo | null | undefined, autoBand: boolean): string {
  if (!w) return '—';
  switch (w.kind) {
    case 'knn': return P(`K近邻 k=${w.k ?? '?'}`, `k nearest neighbours, k=${w.k ?? '?'}`);
    case 'distance': {
      const km = typeof w.band_km === 'number' ? w.band_km.toFixed(1) : '?';
      return autoBand ? P(`距离带 ${km} km（自动：最小不孤立距离）`, `distance band ${km} km (automatic: smallest with no island)`)
        : P(`距离带 ${km} km`, `distance band ${km} km`);
    }
    case 'contiguity': return P('邻接（后共点）', 'contiguity (queen)');
    case 'ring': return P(`H3 环 ring=${w.ring ?? '?'}`, `H3 ring ${w.ring ?? '?'}`);
    default: return w.kind;
  }
}

/** "邻居数 3–5（平均 4.2）". */
export function neighboursText(w: WeightsInfo | null | undefined): string {
  if (!w) return '';
  return P(`邻居数 ${w.min_neighbors}–${w.max_neighbors}（平均 ${num(w.mean_neighbors)}）`,
    `neighbours ${w.min_neighbors}–${w.max_neighbors} (mean ${num(w.mean_neighbors)})`);
}

export function correctionText(c: string | undefined, alpha: number | undefined): string {
  const a = `α=${alpha ?? 0.05}`;
  if (c === 'bonferroni') return `Bonferroni ${a}`;
  if (c === 'none') return P(`不校正 ${a}`, `no correction ${a}`);
  return `FDR ${a}`;
}

/** The words of each diagnosis code, from its params. */
const CODES: Record<string, (p: Record<string, unknown>) => [string, string]> = {
  no_variation: () => ['各单元的分析值都相同（病例数的差异不超过随机波动时，经验贝叶斯平滑率都等于平均率）：没有差异可供比较。', 'The analysed values are the same in every unit (empirical-Bayes rates all equal the mean when the counts vary no more than chance): there is nothing to compare.'],
  // Hotspots: {testable, min}; scans: {units, min}.
  too_few_units: (p) => p.testable !== undefined
    ? [`只有 ${num(p.testable, 0)} 个单元有邻居、可以检验（至少需要 ${num(p.min, 0)} 个）。`, `Only ${num(p.testable, 0)} units have a neighbour and can be tested; at least ${num(p.min, 0)} are needed.`]
    : [`此范围内有分母的村只有 ${num(p.units, 0)} 个：扫描至少需要 ${num(p.min, 0)} 个村来比较窗口。`, `Only ${num(p.units, 0)} villages with a denominator in this area: a scan needs at least ${num(p.min, 0)}.`],
  // Hotspots: {cases, units}; scans: {cases (null when withheld), min}.
  too_few_cases: (p) => p.units !== undefined
    ? [`只有 ${num(p.cases, 0)} 例，分布在 ${num(p.units, 0)} 个单元（总数不足 10 例或平均每单元不足 0.5 例）：太少，无法区分聚集与偶然。`,
      `Only ${num(p.cases, 0)} cases in ${num(p.units, 0)} units (fewer than 10 in all, or under 0.5 per unit): too few to tell a cluster from chance.`]
    : typeof p.cases === 'number'
      ? [`此时期和范围内只有 ${num(p.cases, 0)} 例：扫描至少需要 ${num(p.min, 0)} 例才能发现聚集区。`, `Only ${num(p.cases, 0)} cases in this period and area: a scan needs at least ${num(p.min, 0)}.`]
      : [`此时期和范围内病例不足 ${num(p.min, 0)} 例：太少，扫描无法发现聚集区。`, `Fewer than ${num(p.min, 0)} cases in this period and area: too few for a scan.`],
  too_many_islands: (p) => [`${num(p.islands, 0)} / ${num(p.n, 0)} 个单元没有邻居（孤立单元），不参与检验（超过 20%）。`,
    `${num(p.islands, 0)} of ${num(p.n, 0)} units have no neighbour and are not tested (more than 20%).`],
  no_clustering: (p) => [`数据足以检验，但在 α=${p.alpha ?? 0.05}（经多重检验校正）下没有显著的热点或冷点：没有聚集的证据。`,
    `The data suffice, and no unit is a significant hot or cold spot at α=${p.alpha ?? 0.05} (after correction): no evidence of clustering.`],
  no_significant_cluster: (p) => typeof p.best_p === 'number'
    ? [`在 α=${p.alpha ?? 0.05} 下没有显著的聚集区：最可能的聚集区 ${pText(p.best_p)}，偶然也可能出现。`,
      `No cluster is significant at α=${p.alpha ?? 0.05}: the most likely one has ${pText(p.best_p)}, which chance alone could give.`]
    : [`在 α=${p.alpha ?? 0.05} 下没有显著的聚集区：没有哪个窗口的病例多于期望。`, `No cluster is significant at α=${p.alpha ?? 0.05}: no window holds more cases than expected.`],
  // Suggestions.
  wider_area: () => ['扩大范围（全县，而非单个乡镇）：有更多的单元和病例可比较。', 'Analyse a wider area (the whole county rather than one township).'],
  longer_period: (p) => typeof p.years === 'number'
    ? [`延长时期：约 ${num(p.years, 0)} 年的数据可积累足够的病例。`, `Use a longer period: about ${num(p.years, 0)} year${p.years === 1 ? '' : 's'} would gather enough cases.`]
    : ['延长时期：病例越多，检验越有把握。', 'Use a longer period: more cases give the test more power.'],
  finer_units: () => ['改用更小的单元（村而非乡镇，或更细的 H3 网格），得到更多单元。', 'Use smaller units (villages rather than townships, or finer H3 cells).'],
  more_neighbours: () => ['给每个单元更多邻居：更大的 k、更宽的距离带或更大的环。', 'Give each unit more neighbours: a larger k, a wider band or a wider ring.'],
  use_knn: () => ['改用 K 近邻权重：每个单元都有邻居。', 'Use k-nearest-neighbour weights: every unit then has neighbours.'],
  coarser_cells: () => ['改用更粗的 H3 网格（较低分辨率），使每格的病例更多。', 'Use coarser H3 cells (a lower resolution) so that each gathers more cases.'],
  smaller_window: (p) => [`试试更小的最大窗口（人口比例 ${num(p.max_population_percent, 0)}%，或设最大半径）：检验的窗口更少，小聚集区不被周围的村稀释。`,
    `Try a smaller largest window (${num(p.max_population_percent, 0)}% of the population, or a largest radius): a small cluster is then not diluted.`],
};
CODES.more_neighbors = CODES.more_neighbours;

/** One reason or suggestion in the reader's language; the server's English for an unknown code. */
export function codedText(c: Coded): string {
  const f = CODES[c.code];
  if (f) return P(...f(c.params ?? {}));
  return c.message ?? c.code;
}

/** A p-value: three decimals, "p<0.001" below that. */
export function pText(p: unknown): string {
  if (typeof p !== 'number' || !Number.isFinite(p)) return 'p —';
  return p < 0.001 ? 'p<0.001' : `p=${p.toFixed(3)}`;
}

/** "YYYY-MM 至 YYYY-MM". */
export function windowText(start: unknown, end: unknown): string {
  if (typeof start !== 'string' || typeof end !== 'string') return '';
  if (start === end) return start;
  return P(`${start} 至 ${end}`, `${start} to ${end}`);
}

/** The scan panel's choices. */
export interface ScanOptions {
  layer: string;
  kind: 'space' | 'space_time';
  /** Space-time model; empty: the server's default for the layer (Poisson or Bernoulli). */
  model: '' | 'space_time_permutation';
  max_population_percent: number;
  /** Empty: no limit. */
  max_radius_km: string;
  showAll: boolean;
}

/** The path and query of the scan for the options and a period (empty: the server's default). */
export function scanQuery(o: ScanOptions, from?: string, to?: string): { path: string; query: Record<string, string | number | undefined> } {
  const q: Record<string, string | number | undefined> = { layer: o.layer, from, to };
  const pct = Math.min(50, Math.max(1, Math.round(Number(o.max_population_percent) || 50)));
  if (pct !== 50) q.max_population_percent = pct;
  if (String(o.max_radius_km).trim() !== '' && Number(o.max_radius_km) > 0) q.max_radius_km = Number(o.max_radius_km);
  if (o.showAll) q.show = 'all';
  if (o.kind === 'space_time') {
    if (o.model) q.model = o.model;
    return { path: '/api/scan/space-time', query: q };
  }
  return { path: '/api/scan', query: q };
}

/** A cluster's properties (one feature of the scan answers). */
export interface ClusterProps {
  cluster_rank: number; center_id?: string; center_name?: string | null; radius_km: number; n_locations?: number;
  member_ids?: string[]; members?: { code: string; name?: string | null }[]; population?: number;
  observed?: number | null; expected?: number; relative_risk?: number | null; llr?: number; p_value?: number | null;
  significant?: boolean; start_month?: string; end_month?: string; suppressed?: boolean;
}
/** The collection properties of the scan answers. */
export interface ScanInfo {
  layer?: string; model?: string; kind?: string; alpha?: number; significant?: number; clusters_found?: number;
  not_significant?: number; n_locations?: number; replications?: number; months?: string[];
  max_population_percent?: number; max_radius_km?: number | null; diagnosis?: Diagnosis | null;
}

/** Member villages by name: the first few, then "等N个村". */
export function membersText(c: ClusterProps, first = 4): string {
  const names = (c.members ?? []).map((m) => m.name || m.code);
  const all = names.length ? names : (c.member_ids ?? []);
  const n = c.n_locations ?? all.length;
  const shown = all.slice(0, first).join(P('、', ', '));
  if (n <= first) return shown;
  return P(`${shown} 等${n}个村`, `${shown} and ${n - first} more (${n} villages)`);
}

/** The model of a scan in words. */
export function modelText(m: string | undefined): string {
  if (m === 'poisson') return P('泊松', 'Poisson');
  if (m === 'bernoulli') return P('伯努利', 'Bernoulli');
  if (m === 'space_time_permutation') return P('时空重排（无分母）', 'space-time permutation (no denominator)');
  return m ?? '';
}
