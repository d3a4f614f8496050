import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { postJson, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';
import { figure } from './support/figures.js';

const RULES = {
  twilio: { threshold_count: 5, window_minutes: 3, log_patterns: ['twilio api error'], queues: ['calls'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
};
// Errors per "minute" (1 s) over 30 minutes: a burst that trips and clears, then a second one.
const SCRIPT = [0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0];

describe('dry-run (issue 22)', () => {
  let t: TestHttp | undefined;
  afterEach(async () => {
    await stopTestHttp(t);
    t = undefined;
  });

  it('a replay of a scripted 30-minute scenario gives the trip and resume minutes the live rules gave', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_AUTO_RESUME_MINUTES: '2' });
    const minute = async () => Math.floor((await t!.cg.ledger.now()) / 1000);
    const start = (await minute()) + 1;
    for (let k = 0; k < SCRIPT.length; k++) {
      await waitFor(async () => (await minute()) >= start + k, { what: `minute ${k}` });
      if (SCRIPT[k]) {
        const sent = await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: SCRIPT[k] }, { token: tokenOf('alerts') });
        expect(sent.status).toBe(202);
      }
    }
    const released = async () => (await t!.cg.ledger.audit()).filter((e) => e.hold === 'rule:twilio' && e.event === 'hold-released');
    await waitFor(async () => (await released()).length >= 2, { timeoutMs: 30_000, what: 'the second resume' });

    const dry = await postJson(`${t.url}/health/rules/dry-run`, RULES, { token: tokenOf('viewer') });
    expect(dry.status).toBe(200);
    const twilio = dry.json.replay.rules.twilio;
    expect(twilio.replayable).toBe(true);
    const minutes = (list: Array<{ event: string; at: string }>) => list.map((e) => [e.event, Math.floor(Date.parse(e.at) / 1000) - start]);
    const proposed = minutes(twilio.proposed);
    const actual = minutes(twilio.actual);
    figure(`dry-run replay: proposed ${JSON.stringify(proposed)}; live ${JSON.stringify(actual)} (minutes from the start)`);
    expect(proposed.map(([e]) => e)).toEqual(['placed', 'released', 'placed', 'released']);
    expect(actual.map(([e]) => e)).toEqual(['placed', 'released', 'placed', 'released']);
    const exact = proposed.filter(([, m], i) => m === actual[i]![1]).length;
    figure(`dry-run agreement: ${exact} of ${proposed.length} trip/resume minutes exact; the rest within one minute`);
    // Trips are decided in the minute the errors are counted, live and replayed.
    expect([proposed[0]![1], proposed[2]![1]]).toEqual([actual[0]![1], actual[2]![1]]);
    // A resume waits for whole minutes below threshold; a live tick a few ms early waits one tick more.
    for (const i of [1, 3]) expect(Math.abs((proposed[i]![1] as number) - (actual[i]![1] as number))).toBeLessThanOrEqual(1);

    // A proposal with other patterns cannot be replayed, and says so; a lower threshold would have tripped sooner.
    const other = await postJson(
      `${t.url}/health/rules/dry-run`,
      {
        ...RULES,
        twilio: { ...RULES.twilio, threshold_count: 3, log_patterns: ['twilio 5xx'] },
        plivo: { ...RULES.plivo, threshold_count: 3 },
      },
      { token: tokenOf('viewer') },
    );
    expect(other.json.replay.rules.twilio).toMatchObject({ replayable: false, proposed: [] });
    expect(other.json.replay.rules.twilio.reason).toMatch(/log_patterns/);
    expect(other.json.replay.rules.plivo).toMatchObject({ replayable: true, proposed: [], actual: [] });
    const lower = await postJson(
      `${t.url}/health/rules/dry-run`,
      { ...RULES, twilio: { ...RULES.twilio, threshold_count: 3 } },
      { token: tokenOf('viewer') },
    );
    const first = Math.floor(Date.parse(lower.json.replay.rules.twilio.proposed[0].at) / 1000) - start;
    expect(first).toBeLessThanOrEqual(actual[0]![1] as number);
    expect(lower.json.now).toEqual({ tripped: [], place: [], release: [] });
  });
});
