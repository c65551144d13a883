import type { ReportCurves, ReportSample, ReportSummary } from './report_types';

/** A small, fully populated report input (used by the report tests and as an example of the shapes). */
export function exampleReportInput(): { summary: ReportSummary; curves: ReportCurves; samples: ReportSample[] } {
  const series = (count: number, f: (step: number) => number): { step: number; value: number }[] =>
    Array.from({ length: count }, (_, i) => ({ step: i * 10, value: f(i * 10) }));
  return {
    summary: {
      run: 'example <run> & "quotes"',
      sft: { goldScore: 0.41, rewardModelScore: -0.2 },
      ppo: { goldScore: 0.78, rewardModelScore: 1.3, kl: 2.5 },
      dpo: { goldScore: 0.69, rewardModelScore: 0.9 },
      rewardModel: { heldoutAccuracy: 0.83 },
      labelNoise: 0.1,
      seconds: 123.4,
    },
    curves: {
      loss: { sft: series(20, (s) => 3 * Math.exp(-s / 60) + 0.5), dpo: series(10, (s) => 0.69 - s / 300) },
      reward: { ppo: series(15, (s) => -0.5 + s / 100) },
      kl: { ppo: series(15, (s) => s / 60) },
      accuracy: { 'reward model': series(8, (s) => 0.5 + s / 200) },
    },
    samples: [
      {
        prompt: "Spell 'cat' backwards.",
        generations: [
          { stage: 'before', text: ' tac.', goldScore: 0.5 },
          { stage: 'ppo', text: ' The answer is tac. Thank you!', goldScore: 1, rewardModelScore: 1.7 },
          { stage: 'dpo', text: ' The answer is tac. Thank you!', goldScore: 1 },
        ],
      },
      {
        prompt: '<script>alert("x")</script>',
        generations: [{ stage: 'before', text: '<img src=x onerror=alert(1)>' }],
      },
    ],
  };
}
