import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { escapeHtml } from './html_escape';
import { exampleReportInput } from './report_fixture';
import { chartRange, PLOT_AREA, pointToSvg, renderLineChart } from './svg_chart';
import { renderReportHtml, writeReport } from './write_report';

function polylinePoints(html: string, chart: string, series: string): [number, number][] {
  const svgStart = html.indexOf(`data-chart="${chart}"`);
  expect(svgStart).toBeGreaterThanOrEqual(0);
  const svg = html.slice(svgStart, html.indexOf('</svg>', svgStart));
  const match = new RegExp(`<polyline data-series="${series}"[^>]* points="([^"]*)"`).exec(svg);
  expect(match).not.toBeNull();
  return (match?.[1] ?? '').split(' ').map((pair) => pair.split(',').map(Number) as [number, number]);
}

describe('report HTML', () => {
  it('draws the four standard charts with every data point scaled into the plot area', () => {
    const { summary, curves, samples } = exampleReportInput();
    const html = renderReportHtml(summary, curves, samples);
    for (const chart of ['loss', 'reward', 'kl', 'accuracy']) expect(html).toContain(`<svg class="chart" data-chart="${chart}"`);
    const sft = polylinePoints(html, 'loss', 'sft');
    expect(sft).toHaveLength(20);
    // The loss chart spans both series: sft's first point is its maximum (top), dpo's last its minimum (bottom).
    expect(sft[0]).toEqual([PLOT_AREA.left, PLOT_AREA.top]);
    const dpo = polylinePoints(html, 'loss', 'dpo');
    expect(dpo[dpo.length - 1]?.[1]).toBeCloseTo(PLOT_AREA.bottom, 2);
    expect(sft[sft.length - 1]?.[0]).toBe(PLOT_AREA.right); // step 190 is the last step of any series
    const range = chartRange(curves['loss'] ?? {});
    expect(range).not.toBeNull();
    const middle = (curves['loss']?.['sft'] ?? [])[7];
    if (range === null || middle === undefined) throw new Error('fixture');
    const expected = pointToSvg(middle, range);
    expect(sft[7]).toEqual([expected.x, expected.y]);
    // A marker with a title per point.
    expect(html).toContain('<title>reward model: 70 → 0.85</title>');
  });

  it('shows the held-out score table and facts', () => {
    const { summary, curves, samples } = exampleReportInput();
    const html = renderReportHtml(summary, curves, samples);
    const table = html.slice(html.indexOf('<table id="scores">'), html.indexOf('</table>', html.indexOf('<table id="scores">')));
    expect(table).toContain('<tr><th>PPO</th><td class="number">0.78</td><td class="number">1.3</td><td class="number">2.5</td></tr>');
    expect(table).toContain('<tr><th>SFT</th><td class="number">0.41</td><td class="number">-0.2</td>');
    expect(html).toContain('<td class="number">0.83</td>');
  });

  it('escapes user text and contains no script or external reference', () => {
    const { summary, curves, samples } = exampleReportInput();
    const hostileCurves = { ...curves, '<b>x</b>': { '"><img src=y onerror=alert(2)>': [{ step: 1, value: 2 }] } };
    const html = renderReportHtml(summary, hostileCurves, samples);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/onerror=alert\(2\)>/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('rlhfjs report: example &lt;run&gt; &amp; &quot;quotes&quot;');
    expect(html).toContain('data-chart="&lt;b&gt;x&lt;/b&gt;"');
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });

  it('handles empty and degenerate series', () => {
    expect(renderLineChart('kl', {})).toContain('no data');
    const flat = renderLineChart('flat', { a: [{ step: 5, value: 0 }, { step: 5, value: Number.NaN }] });
    expect(flat).toMatch(/points="[\d.]+,[\d.]+"/);
    expect(flat).not.toContain('NaN');
  });

  it('writes index.html and summary.json', async () => {
    const { summary, curves, samples } = exampleReportInput();
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'report-')), 'reports', 'run-1');
    try {
      const written = await writeReport(dir, summary, curves, samples);
      expect(written.htmlPath).toBe(path.join(dir, 'index.html'));
      expect(await fs.readFile(written.htmlPath, 'utf8')).toBe(renderReportHtml(summary, curves, samples));
      const saved = JSON.parse(await fs.readFile(written.summaryPath, 'utf8')) as Record<string, unknown>;
      expect(saved).toEqual(summary);
      for (const key of ['sft', 'ppo', 'dpo', 'rewardModel', 'labelNoise', 'seconds']) expect(saved).toHaveProperty(key);
    } finally {
      await fs.rm(path.dirname(path.dirname(dir)), { recursive: true, force: true });
    }
  });
});
