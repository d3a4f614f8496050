import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCallguardError, ValidationError, type CallguardError } from '../src/domain/errors.js';
import { statusOf } from '../src/http/middleware/errors.js';
import { MAX_ALERTS_PER_PAYLOAD, parseAlertPayload, type AlertEvent } from '../src/domain/alerts.js';

type Alert = { labels: Record<string, unknown>; annotations: Record<string, unknown>; [key: string]: unknown };
type Payload = { alerts: Alert[]; [key: string]: unknown };

type FixtureName = 'alertmanager-firing' | 'alertmanager-resolved' | 'grafana-firing' | 'grafana-resolved';

function fixture(name: FixtureName): Payload {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Payload;
}

/** The fixture with its first alert edited: a realistic payload wrong in exactly one place. */
function withFirstAlert(name: FixtureName, edit: (alert: Alert) => void): Payload {
  const payload = fixture(name);
  edit(payload.alerts[0]!);
  return payload;
}

function errorOf(body: unknown): Error {
  try {
    parseAlertPayload(body);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected parseAlertPayload to throw');
}

describe('Alertmanager and Grafana fixtures', () => {
  it('when Alertmanager fires, then each alert becomes one event keyed by its fingerprint', () => {
    expect(parseAlertPayload(fixture('alertmanager-firing'))).toEqual<AlertEvent[]>([
      {
        source: 'alertmanager',
        id: '8d1f2a3b4c5d6e7f',
        status: 'firing',
        name: 'SipTrunkErrors',
        reason: 'SIP 503s from carrier-a above 5%',
        rule: 'carrier_a_failures',
        queues: ['outbound-calls', 'callbacks'],
        labels: {
          alertname: 'SipTrunkErrors',
          team: 'voice',
          severity: 'critical',
          trunk: 'carrier-a',
          callguard_rule: 'carrier_a_failures',
          callguard_queues: ' outbound-calls, ,callbacks ',
        },
      },
      {
        source: 'alertmanager',
        id: '0a9b8c7d6e5f4a3b',
        status: 'firing',
        name: 'SipTrunkErrors',
        reason: 'carrier-b is rejecting INVITEs with 503 for 10 minutes.',
        rule: 'carrier_b_failures',
        labels: { alertname: 'SipTrunkErrors', team: 'voice', severity: 'critical', trunk: 'carrier-b', rule: 'carrier_b_failures' },
      },
    ]);
  });

  it('when Grafana fires, then each alert becomes one event and extra Grafana fields are ignored', () => {
    const events = parseAlertPayload(fixture('grafana-firing'));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      source: 'grafana',
      id: 'c2a4e6f8a0b1c3d5',
      status: 'firing',
      name: 'Voice provider error rate',
      reason: 'Twilio call failures above threshold',
      rule: 'twilio_failures',
      queues: ['outbound-calls'],
    });
    expect(events[1]).toEqual<AlertEvent>({
      source: 'grafana',
      id: '5e4d3c2b1a0f9e8d',
      status: 'firing',
      name: 'Voice provider latency',
      reason: 'Voice provider latency',
      labels: { alertname: 'Voice provider latency', grafana_folder: 'Telephony', provider: 'vonage' },
    });
  });

  it.each([
    ['alertmanager-firing', 'alertmanager-resolved'],
    ['grafana-firing', 'grafana-resolved'],
  ] as const)('when %s is followed by %s, then the resolved events carry the same ids', (firing, resolved) => {
    const fired = parseAlertPayload(fixture(firing));
    const cleared = parseAlertPayload(fixture(resolved));
    expect(fired.every((e) => e.status === 'firing')).toBe(true);
    expect(cleared.every((e) => e.status === 'resolved')).toBe(true);
    expect(cleared.map((e) => [e.source, e.id, e.rule])).toEqual(fired.map((e) => [e.source, e.id, e.rule]));
  });
});

describe('generic form', () => {
  it.each<[string, unknown, Partial<AlertEvent>]>([
    ['empty body', {}, { id: 'default', name: 'default', status: 'firing', reason: 'default' }],
    ['rule only', { rule: 'twilio' }, { id: 'twilio', name: 'twilio', rule: 'twilio', reason: 'twilio' }],
    ['id only', { id: 'inc-42' }, { id: 'inc-42', name: 'inc-42' }],
    ['id and rule', { id: 'inc-42', rule: 'twilio' }, { id: 'inc-42', name: 'twilio', rule: 'twilio' }],
    ['reason given', { rule: 'twilio', reason: 'carrier outage' }, { reason: 'carrier outage' }],
    ['blank reason', { rule: 'twilio', reason: '  ' }, { reason: 'twilio' }],
    ['resolved', { rule: 'twilio', status: 'resolved' }, { status: 'resolved' }],
    ['padded names', { rule: ' twilio ', id: ' x ' }, { id: 'x', rule: 'twilio' }],
  ])('%s', (_, body, expected) => {
    const events = parseAlertPayload(body);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ source: 'generic', status: 'firing', labels: {}, ...expected });
  });

  it('when no rule is given, then the event has no rule field', () => {
    expect(parseAlertPayload({ id: 'x' })[0]).not.toHaveProperty('rule');
  });
});

describe('id, name and reason fallbacks', () => {
  const labels = { alertname: 'SipTrunkErrors', trunk: 'carrier-c', team: 'voice' };

  it.each(['alertmanager-firing', 'grafana-firing'] as const)(
    'when %s has no fingerprint, then the id is a hash of the labels, stable across order and status',
    (name) => {
      const firing = withFirstAlert(name, (a) => {
        delete a.fingerprint;
        a.labels = { ...labels };
      });
      const resolved = withFirstAlert(name, (a) => {
        a.fingerprint = '';
        a.status = 'resolved';
        a.labels = { team: 'voice', trunk: 'carrier-c', alertname: 'SipTrunkErrors' };
      });
      const other = withFirstAlert(name, (a) => {
        delete a.fingerprint;
        a.labels = { ...labels, trunk: 'carrier-d' };
      });
      const id = parseAlertPayload(firing)[0]!.id;
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(parseAlertPayload(resolved)[0]!.id).toBe(id);
      expect(parseAlertPayload(other)[0]!.id).not.toBe(id);
    },
  );

  it.each<[string, Record<string, string>, string]>([
    ['summary wins', { summary: 'S', description: 'D' }, 'S'],
    ['description next', { description: 'D' }, 'D'],
    ['empty summary skipped', { summary: '', description: 'D' }, 'D'],
    ['alertname last', {}, 'SipTrunkErrors'],
  ])('reason: %s', (_, annotations, reason) => {
    const body = withFirstAlert('alertmanager-firing', (a) => {
      a.annotations = annotations;
    });
    expect(parseAlertPayload(body)[0]!.reason).toBe(reason);
  });

  it('when annotations are absent, then the reason falls back to the alert name', () => {
    const body = withFirstAlert('grafana-firing', (a) => {
      Reflect.deleteProperty(a, 'annotations');
    });
    expect(parseAlertPayload(body)[0]).toMatchObject({ name: 'Voice provider error rate', reason: 'Voice provider error rate' });
  });

  it('when alertname is missing, then the name falls back to the id', () => {
    const body = withFirstAlert('alertmanager-firing', (a) => {
      a.labels = { job: 'sip' };
      a.annotations = {};
    });
    expect(parseAlertPayload(body)[0]).toMatchObject({ id: '8d1f2a3b4c5d6e7f', name: '8d1f2a3b4c5d6e7f', reason: '8d1f2a3b4c5d6e7f' });
  });
});

describe('rule and queues from labels', () => {
  it.each<[string, Record<string, string>, { rule?: string; queues?: string[] }]>([
    ['callguard_rule', { callguard_rule: 'twilio' }, { rule: 'twilio' }],
    ['rule', { rule: 'vonage' }, { rule: 'vonage' }],
    ['callguard_rule beats rule', { callguard_rule: 'twilio', rule: 'vonage' }, { rule: 'twilio' }],
    ['blank callguard_rule falls back to rule', { callguard_rule: ' ', rule: 'vonage' }, { rule: 'vonage' }],
    ['trimmed rule', { rule: '  vonage ' }, { rule: 'vonage' }],
    ['no rule labels', {}, {}],
    ['one queue', { callguard_queues: 'outbound' }, { queues: ['outbound'] }],
    ['trimmed, empties dropped', { callguard_queues: ' a ,, b,  ,c ' }, { queues: ['a', 'b', 'c'] }],
    ['duplicates collapsed', { callguard_queues: 'a,b,a' }, { queues: ['a', 'b'] }],
    ['only commas', { callguard_queues: ' , ,' }, {}],
  ])('%s', (_, extra, expected) => {
    const body = withFirstAlert('grafana-firing', (a) => {
      a.labels = { alertname: 'X', ...extra };
    });
    const event = parseAlertPayload(body)[0]!;
    expect({ rule: event.rule, queues: event.queues }).toEqual({ rule: expected.rule, queues: expected.queues });
  });
});

describe('unknown fields', () => {
  it.each(['alertmanager-firing', 'grafana-firing'] as const)('when %s gains new fields, then it still parses', (name) => {
    const body = { ...withFirstAlert(name, (a) => (a.newField = { nested: [1] })), addedInV99: true };
    expect(parseAlertPayload(body)).toHaveLength(2);
  });
});

describe('malformed payloads', () => {
  it.each<[string, unknown, RegExp]>([
    ['null body', null, /body: expected a JSON object/],
    ['array body', [{ rule: 'x' }], /body: expected a JSON object/],
    ['string body', 'firing', /body: expected a JSON object/],
    ['generic: unknown field', { rule: 'x', rules: 'y' }, /generic.*rules: unknown field/],
    ['generic: bad status', { rule: 'x', status: 'pending' }, /generic.*status: .*"firing"\|"resolved"/],
    ['generic: numeric rule', { rule: 42 }, /rule: .*expected string/],
    ['generic: empty id', { id: '' }, /id: /],
    ['generic: rule too long', { rule: 'r'.repeat(201) }, /rule: /],
    ['generic: non-string reason', { reason: ['a'] }, /reason: .*expected string/],
    ['alertmanager: wrong version', { ...fixture('alertmanager-firing'), version: '3' }, /alertmanager.*version: .*"4"/],
    ['alertmanager: no version', { alerts: fixture('alertmanager-firing').alerts }, /alertmanager.*version: /],
    ['alertmanager: empty alerts', { ...fixture('alertmanager-firing'), alerts: [] }, /alertmanager.*alerts: .*>=1/],
    ['alertmanager: alerts not an array', { ...fixture('alertmanager-firing'), alerts: {} }, /alerts: .*expected array/],
    [
      'alertmanager: numeric label value',
      withFirstAlert('alertmanager-firing', (a) => (a.labels.severity = 2)),
      /alerts\.0\.labels\.severity: .*expected string/,
    ],
    ['alertmanager: unknown alert status', withFirstAlert('alertmanager-resolved', (a) => (a.status = 'pending')), /alerts\.0\.status: /],
    [
      'alertmanager: missing labels',
      withFirstAlert('alertmanager-firing', (a) => Reflect.deleteProperty(a, 'labels')),
      /alerts\.0\.labels: /,
    ],
    [
      'alertmanager: numeric fingerprint',
      withFirstAlert('alertmanager-firing', (a) => (a.fingerprint = 123)),
      /alerts\.0\.fingerprint: .*expected string/,
    ],
    [
      'grafana: annotation not a string',
      withFirstAlert('grafana-firing', (a) => (a.annotations.summary = { text: 'x' })),
      /grafana.*alerts\.0\.annotations\.summary: .*expected string/,
    ],
    ['grafana: orgId as string', { ...fixture('grafana-firing'), orgId: '1' }, /grafana.*orgId: .*expected number/],
    ['grafana: no alerts', { orgId: 1, state: 'alerting', title: 'x' }, /grafana.*alerts: .*expected array/],
    ['grafana: alert is null', { ...fixture('grafana-firing'), alerts: [null] }, /alerts\.0: .*expected object/],
  ])('%s', (_, body, message) => {
    const err = errorOf(body);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(message);
  });

  it('thrown errors carry the stable invalid_request code, kind invalid, answered with 400', () => {
    const err = errorOf({ status: 'nope' });
    expect(isCallguardError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'invalid_request', kind: 'invalid' });
    expect(statusOf(err as CallguardError)).toBe(400);
  });
});

describe('payload size', () => {
  function payloadWith(count: number): Payload {
    const payload = fixture('alertmanager-firing');
    const template = payload.alerts[0]!;
    payload.alerts = Array.from({ length: count }, (_, i) => ({ ...template, fingerprint: `fp-${i}` }));
    return payload;
  }

  it(`accepts exactly ${MAX_ALERTS_PER_PAYLOAD} alerts`, () => {
    const events = parseAlertPayload(payloadWith(MAX_ALERTS_PER_PAYLOAD));
    expect(events).toHaveLength(MAX_ALERTS_PER_PAYLOAD);
    expect(events.at(-1)!.id).toBe(`fp-${MAX_ALERTS_PER_PAYLOAD - 1}`);
  });

  it(`rejects ${MAX_ALERTS_PER_PAYLOAD + 1} alerts, naming the alerts field`, () => {
    expect(errorOf(payloadWith(MAX_ALERTS_PER_PAYLOAD + 1)).message).toMatch(/alerts: .*<=500/);
  });
});
