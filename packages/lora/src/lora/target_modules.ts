// PEFT's target-module rule (peft/tuners/tuners_utils.py `check_target_module_exists`, and
// `_maybe_include_all_linear_layers` for 'all-linear').
import type { TargetModules } from './lora_config';

/** The output head PEFT leaves out of 'all-linear'. */
export const OUTPUT_HEAD_MODULE = 'lm_head';

/** True when `moduleName` is a target: exact name or `.${suffix}` for a list, full match for a RegExp. */
export function matchesTarget(moduleName: string, target: TargetModules): boolean {
  if (target === 'all-linear') return moduleName !== OUTPUT_HEAD_MODULE && !moduleName.endsWith(`.${OUTPUT_HEAD_MODULE}`);
  if (target instanceof RegExp) return fullMatch(target, moduleName);
  return target.some((entry) => moduleName === entry || moduleName.endsWith(`.${entry}`));
}

/** The module names among `moduleNames` that `target` selects, in model order. */
export function matchTargetModules(moduleNames: readonly string[], target: TargetModules): string[] {
  return moduleNames.filter((name) => matchesTarget(name, target));
}

/** Python's `re.fullmatch`: the pattern must cover the whole string. */
function fullMatch(pattern: RegExp, text: string): boolean {
  const anchored = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ''));
  return anchored.test(text);
}

/**
 * `target_modules` as adapter_config.json stores it: a list (deduplicated, order kept), the regex source for a
 * RegExp, and for 'all-linear' the last name components of the modules it selected (what PEFT writes after
 * expanding it).
 */
export function targetModulesForConfig(target: TargetModules, selected: readonly string[]): string[] | string {
  if (target instanceof RegExp) return target.source;
  if (target === 'all-linear') return [...new Set(selected.map((name) => name.slice(name.lastIndexOf('.') + 1)))];
  return [...target];
}
