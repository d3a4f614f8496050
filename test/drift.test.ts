import { afterEach, describe, expect, it } from 'vitest';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { createLogger } from '../src/ops/logger.js';
import { cleanup, testConfig, testRules, waitFor } from './support/harness.js';

const RULES = { twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };

describe('drift repair', () => {
  const config = testConfig();
  const instances: Callguard[] = [];
  afterEach(async () => {
    for (const cg of instances.splice(0)) await cg.stop({ graceMs: 1000 }).catch(() => undefined);
    await cleanup(config);
  });

  it('when three instances find the same drift at once, then all repair it and exactly one audits it', async () => {
    for (let i = 0; i < 3; i++)
      instances.push(await createCallguard(config, testRules(RULES, config.queues), { logger: createLogger('silent') }));
    const [a] = instances as [Callguard];
    await a.control.pause({ by: 'ops', reason: 'maintenance' });
    const calls = a.dispatch.get('calls')!;
    expect(await calls.isPaused()).toBe(true);
    // Wait until the pause is no longer "in flight" by Redis' clock, then resume behind callguard's back.
    const changedAt = await a.ledger.lastChangeAt();
    await waitFor(async () => (await a.ledger.now()) - changedAt > 2100, { what: 'the pause to be 2 s old' });
    await calls.resume();
    const repaired = await Promise.all(instances.map((cg) => cg.enforcer.reconcile()));
    expect(await calls.isPaused()).toBe(true);
    expect(repaired.flat()).toEqual(['calls']);
    expect((await a.ledger.audit(20)).filter((e) => e.event === 'drift-repaired')).toHaveLength(1);
  });
});
