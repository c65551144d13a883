import { escapeHtml } from './html_escape';
import type { CurvePoint } from './report_types';

export const CHART_WIDTH = 560;
export const CHART_HEIGHT = 280;
/** Plot area inside the chart: left, top, right, bottom edges in SVG units. */
export const PLOT_AREA = Object.freeze({ left: 56, top: 30, right: CHART_WIDTH - 12, bottom: CHART_HEIGHT - 56 });

export const SERIES_COLOURS: readonly string[] = Object.freeze(['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f']);

/** Above this many points a series is drawn as a line only (no markers). */
const MAX_MARKERS = 120;

export interface ChartRange {
  readonly minStep: number;
  readonly maxStep: number;
  readonly minValue: number;
  readonly maxValue: number;
}

function finitePoints(points: readonly CurvePoint[]): CurvePoint[] {
  return points.filter((point) => Number.isFinite(point.step) && Number.isFinite(point.value));
}

/** The data range over all series, widened where it is empty so that scaling never divides by zero. */
export function chartRange(series: Readonly<Record<string, readonly CurvePoint[]>>): ChartRange | null {
  const all = Object.values(series).flatMap(finitePoints);
  if (all.length === 0) return null;
  let [minStep, maxStep, minValue, maxValue] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const { step, value } of all) {
    minStep = Math.min(minStep, step);
    maxStep = Math.max(maxStep, step);
    minValue = Math.min(minValue, value);
    maxValue = Math.max(maxValue, value);
  }
  if (minStep === maxStep) [minStep, maxStep] = [minStep - 1, maxStep + 1];
  if (minValue === maxValue) {
    const pad = Math.abs(minValue) > 0 ? Math.abs(minValue) * 0.1 : 1;
    [minValue, maxValue] = [minValue - pad, maxValue + pad];
  }
  return { minStep, maxStep, minValue, maxValue };
}

/** SVG coordinates of a point: steps left to right, values bottom to top. */
export function pointToSvg(point: CurvePoint, range: ChartRange): { x: number; y: number } {
  const x = PLOT_AREA.left + ((point.step - range.minStep) / (range.maxStep - range.minStep)) * (PLOT_AREA.right - PLOT_AREA.left);
  const y = PLOT_AREA.bottom - ((point.value - range.minValue) / (range.maxValue - range.minValue)) * (PLOT_AREA.bottom - PLOT_AREA.top);
  return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 };
}

/** Short label for an axis value. */
export function formatNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-3) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/**
 * An inline SVG line chart of one or more series (no scripts, no external references). Each series is a
 * `<polyline data-series="…">` with the points in order, plus a marker with a `<title>` "series: step → value"
 * per point when there are few points; non-finite values are skipped.
 */
export function renderLineChart(title: string, series: Readonly<Record<string, readonly CurvePoint[]>>): string {
  const parts: string[] = [];
  parts.push(
    `<svg class="chart" data-chart="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`,
  );
  parts.push(`<rect x="0" y="0" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="#ffffff" stroke="#dddddd"/>`);
  parts.push(`<text x="${CHART_WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold" fill="#222">${escapeHtml(title)}</text>`);
  const range = chartRange(series);
  const { left, top, right, bottom } = PLOT_AREA;
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#444"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#444"/>`);
  if (range === null) {
    parts.push(`<text x="${(left + right) / 2}" y="${(top + bottom) / 2}" text-anchor="middle" font-size="14" fill="#888">no data</text>`);
    parts.push('</svg>');
    return parts.join('');
  }
  for (let i = 0; i <= 4; i++) {
    const value = range.minValue + ((range.maxValue - range.minValue) * i) / 4;
    const { y } = pointToSvg({ step: range.minStep, value }, range);
    parts.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#eeeeee"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#444">${formatNumber(value)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const step = range.minStep + ((range.maxStep - range.minStep) * i) / 4;
    const { x } = pointToSvg({ step, value: range.minValue }, range);
    parts.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" font-size="11" fill="#444">${formatNumber(step)}</text>`);
  }
  parts.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle" font-size="11" fill="#444">step</text>`);
  Object.entries(series).forEach(([name, points], index) => {
    const colour = SERIES_COLOURS[index % SERIES_COLOURS.length] as string;
    const finite = finitePoints(points);
    const coordinates = finite.map((point) => pointToSvg(point, range));
    parts.push(
      `<polyline data-series="${escapeHtml(name)}" fill="none" stroke="${colour}" stroke-width="2" points="${coordinates.map(({ x, y }) => `${x},${y}`).join(' ')}"/>`,
    );
    if (finite.length <= MAX_MARKERS) {
      finite.forEach((point, i) => {
        const { x, y } = coordinates[i] as { x: number; y: number };
        parts.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${colour}"><title>${escapeHtml(name)}: ${point.step} → ${formatNumber(point.value)}</title></circle>`);
      });
    }
    const legendX = left + 8 + (index % 4) * 120;
    const legendY = bottom + 46 + Math.floor(index / 4) * 14;
    parts.push(`<rect x="${legendX}" y="${legendY - 8}" width="10" height="10" fill="${colour}"/>`);
    parts.push(`<text x="${legendX + 14}" y="${legendY + 1}" font-size="11" fill="#222">${escapeHtml(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
