// Renders the report in headless Chromium (installed by scripts/ensure_chromium.sh when missing) and checks the
// screenshot shows the charts: right size, many colours, and the series colours present.
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { exampleReportInput } from '../../src/report/report_fixture';
import { SERIES_COLOURS } from '../../src/report/svg_chart';
import { writeReport } from '../../src/report/write_report';
import { readPng } from '../support/read_png';

const ENSURE = path.join(__dirname, '..', '..', 'scripts', 'ensure_chromium.sh');

function chromiumFlags(userDataDir: string): string[] {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${userDataDir}`, '--window-size=1200,2000',
  ];
}

describe('report in headless Chromium', () => {
  let chromium = '';
  let work = '';
  let url = '';

  beforeAll(async () => {
    const ensured = spawnSync('sh', [ENSURE], { encoding: 'utf8', timeout: 600_000 });
    if (ensured.status !== 0) throw new Error(`ensure_chromium.sh failed: ${ensured.stderr}`);
    chromium = ensured.stdout.trim().split('\n').pop() ?? 'chromium';
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'report-chromium-'));
    const { summary, curves, samples } = exampleReportInput();
    const { htmlPath } = await writeReport(path.join(work, 'reports', 'run'), summary, curves, samples);
    url = pathToFileURL(htmlPath).href;
  }, 660_000);

  afterAll(async () => {
    if (work !== '') await fs.rm(work, { recursive: true, force: true });
  }, 30_000);

  it('keeps the four SVG charts in the rendered DOM and runs no script', () => {
    const result = spawnSync(chromium, [...chromiumFlags(path.join(work, 'profile-dom')), '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    const dom = result.stdout;
    for (const chart of ['loss', 'reward', 'kl', 'accuracy']) expect(dom).toContain(`data-chart="${chart}"`);
    expect((dom.match(/<polyline/g) ?? []).length).toBe(5);
    expect(dom).toContain('&lt;script&gt;alert');
    expect(dom).not.toMatch(/<script/i);
  }, 90_000);

  it('takes a screenshot that shows the charts', async () => {
    const screenshot = path.join(work, 'shot.png');
    const result = spawnSync(chromium, [...chromiumFlags(path.join(work, 'profile-shot')), `--screenshot=${screenshot}`, url], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    const png = readPng(await fs.readFile(screenshot));
    if (process.env['REPORT_SCREENSHOT_OUT'] !== undefined) await fs.copyFile(screenshot, process.env['REPORT_SCREENSHOT_OUT']);
    expect([png.width, png.height]).toEqual([1200, 2000]);
    const colours = new Map<number, number>();
    for (let i = 0; i < png.width * png.height; i++) {
      const key = ((png.rgba[i * 4] as number) << 16) | ((png.rgba[i * 4 + 1] as number) << 8) | (png.rgba[i * 4 + 2] as number);
      colours.set(key, (colours.get(key) ?? 0) + 1);
    }
    expect(colours.size).toBeGreaterThan(50);
    // The two first series colours are drawn as lines: each must cover a fair number of pixels.
    for (const hex of SERIES_COLOURS.slice(0, 2)) {
      const key = parseInt(hex.slice(1), 16);
      expect(colours.get(key) ?? 0).toBeGreaterThan(200);
    }
  }, 90_000);
});
