import { writeFileAtomic } from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as path from 'path';
import { escapeHtml } from './html_escape';
import { STANDARD_CHARTS, type ReportCurves, type ReportSample, type ReportSummary, type StageScores } from './report_types';
import { formatNumber, renderLineChart } from './svg_chart';

export interface WrittenReport {
  readonly htmlPath: string;
  readonly summaryPath: string;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.text { font-family: ui-monospace, monospace; white-space: pre-wrap; }
.muted { color: #777; }
`;

function cell(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '<td class="number muted">–</td>' : `<td class="number">${formatNumber(value)}</td>`;
}

function scoresTable(summary: ReportSummary): string {
  const rows: [string, StageScores, number | undefined][] = [
    ['SFT', summary.sft, undefined],
    ['PPO', summary.ppo, summary.ppo.kl],
    ...(summary.grpo === undefined ? [] : [['GRPO (gold reward)', summary.grpo, summary.grpo.kl] as [string, StageScores, number]]),
    ['DPO', summary.dpo, undefined],
  ];
  const body = rows
    .map(([stage, scores, kl]) => `<tr><th>${stage}</th>${cell(scores.goldScore)}${cell(scores.rewardModelScore)}${cell(kl)}</tr>`)
    .join('');
  return `<table id="scores"><thead><tr><th>policy</th><th>gold score (held-out)</th><th>reward-model score (held-out)</th><th>KL to SFT</th></tr></thead><tbody>${body}</tbody></table>`;
}

function factsTable(summary: ReportSummary): string {
  const facts: [string, string][] = [
    ['reward model held-out accuracy', formatNumber(summary.rewardModel.heldoutAccuracy)],
    ['preference label noise', formatNumber(summary.labelNoise)],
    ['run time (s)', formatNumber(summary.seconds)],
  ];
  return `<table id="facts"><tbody>${facts.map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td class="number">${escapeHtml(value)}</td></tr>`).join('')}</tbody></table>`;
}

function samplesTable(samples: readonly ReportSample[]): string {
  if (samples.length === 0) return '<p class="muted">no samples</p>';
  const stages = [...new Set(samples.flatMap((sample) => sample.generations.map((generation) => generation.stage)))];
  const head = `<tr><th>prompt</th>${stages.map((stage) => `<th>${escapeHtml(stage)}</th>`).join('')}</tr>`;
  const body = samples
    .map((sample) => {
      const cells = stages.map((stage) => {
        const generation = sample.generations.find((candidate) => candidate.stage === stage);
        if (generation === undefined) return '<td class="muted">–</td>';
        const scores = [
          generation.goldScore === undefined ? null : `gold ${formatNumber(generation.goldScore)}`,
          generation.rewardModelScore === undefined ? null : `rm ${formatNumber(generation.rewardModelScore)}`,
        ].filter((part): part is string => part !== null);
        return `<td class="text">${escapeHtml(generation.text)}${scores.length > 0 ? `<br><span class="muted">${escapeHtml(scores.join(', '))}</span>` : ''}</td>`;
      });
      return `<tr><td class="text">${escapeHtml(sample.prompt)}</td>${cells.join('')}</tr>`;
    })
    .join('');
  return `<table id="samples"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** The report page: self-contained HTML (inline CSS and SVG; no scripts, no external assets). */
export function renderReportHtml(summary: ReportSummary, curves: ReportCurves, samples: readonly ReportSample[]): string {
  const chartNames = [...STANDARD_CHARTS, ...Object.keys(curves).filter((name) => !STANDARD_CHARTS.includes(name))];
  const charts = chartNames.map((name) => renderLineChart(name, curves[name] ?? {})).join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
    `<title>rlhfjs report: ${escapeHtml(summary.run)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>rlhfjs report: ${escapeHtml(summary.run)}</h1>`,
    '<h2>Held-out scores</h2>',
    scoresTable(summary),
    factsTable(summary),
    '<h2>Training curves</h2>',
    `<div class="charts">${charts}</div>`,
    '<h2>Sample generations</h2>',
    samplesTable(samples),
    '</body></html>',
    '',
  ].join('\n');
}

/**
 * Writes `index.html` and `summary.json` into `directory` (conventionally `reports/<run>`), creating it.
 * The HTML is self-contained and every piece of user text in it is escaped.
 */
export async function writeReport(directory: string, summary: ReportSummary, curves: ReportCurves, samples: readonly ReportSample[]): Promise<WrittenReport> {
  await fs.mkdir(directory, { recursive: true });
  const htmlPath = path.join(directory, 'index.html');
  const summaryPath = path.join(directory, 'summary.json');
  await writeFileAtomic(htmlPath, renderReportHtml(summary, curves, samples));
  await writeFileAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  return { htmlPath, summaryPath };
}
