import type { Rule } from './types.js';

/**
 * When a rule's hold goes, honestly. A hold is released once the rule has been clear for the
 * resume delay, and the rule clears only when the failures that tripped it have left its window:
 * up to the whole window after the provider recovers. A probe then runs before full speed.
 */
export function releaseAfterRecovery(rule: Pick<Rule, 'windowMinutes' | 'probe'>, autoResumeMinutes: number): string {
  const release = rule.windowMinutes + autoResumeMinutes;
  const steps = `up to ${rule.windowMinutes} min for the window to drain, then ${autoResumeMinutes} min clear`;
  const probe = rule.probe ? `, then a ${rule.probe.minutes}-min probe at ${rule.probe.maxPerMinute}/min before full speed` : '';
  return `up to ${release} min after the provider recovers (${steps}${probe})`;
}

/** The rest of a hold's way out once its rule is clear: the probe, when the rule has one. */
export function afterClear(rule: Pick<Rule, 'probe'> | undefined): string {
  return rule?.probe ? `, then a ${rule.probe.minutes}-min probe` : '';
}
