// Public pieces of the examples app, for the demo and for users composing their own runs.
export { goldScore, judgeResponse, meanGoldScore, GOLD_SCORES } from './task/gold_score';
export type { GoldJudgement } from './task/gold_score';
export { parseTaskPrompt, tryParseTaskPrompt, allTaskPrompts, TASK_KINDS, TASK_WORDS } from './task/task_prompts';
export type { TaskKind, TaskPrompt } from './task/task_prompts';
export { makeTaskData, resolveTaskDataConfig, toJsonl, TASK_DATA_FILES, DEFAULT_SFT_STYLE_WEIGHTS } from './task/task_data';
export type { TaskData, TaskDataOptions, TaskDataConfig, TaskDataSummary, SftRecord, PreferenceRecord, PromptRecord } from './task/task_data';
export { writeTaskData } from './task/write_task_data';
export { trainTaskTokenizer, taskTokenizerConfig, EOS_TOKEN, PAD_TOKEN, TASK_VOCAB_SIZE } from './task/task_tokenizer';
export { TASK_MODEL_CONFIG, REFERENCE_MODEL_CONFIG, REFERENCE_SEQUENCE_LENGTH } from './task/model_config';
export { writeReport, renderReportHtml } from './report/write_report';
export type { WrittenReport } from './report/write_report';
export type { ReportSummary, ReportCurves, ReportSample, CurvePoint, StageScores } from './report/report_types';
export { generateCompletions } from './pipeline/generate_completions';
export type { CompletionOptions } from './pipeline/generate_completions';
export { evaluateGold } from './pipeline/evaluate_gold';
export type { GoldEvaluation } from './pipeline/evaluate_gold';
export { runCli } from './cli/main';
