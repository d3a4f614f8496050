import { describe, expect, it, vi } from 'vitest';
import { SnapshotCache } from '../src/app/snapshot-cache.js';
import { CountBatcher } from '../src/jobs/count-batcher.js';
import { postJson, startTestHttp, stopTestHttp, tokenOf } from './support/http.js';
import { waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

/** A send whose calls stay pending until the test lets them land (or fail). */
function manualSend() {
  const calls: Array<{ counts: Record<string, number>; land: (id: string) => void; fail: (e: Error) => void }> = [];
  const send = (counts: Record<string, number>) => new Promise<string | null>((land, fail) => calls.push({ counts, land, fail }));
  return { calls, send };
}

describe('CountBatcher (group commit of HTTP counts)', () => {
  it('when the system is quiet, then a report leaves at once in its own batch', async () => {
    const { calls, send } = manualSend();
    const batcher = new CountBatcher(send);
    const done = batcher.submit({ twilio: 2 });
    await waitFor(() => calls.length === 1, { what: 'the first send' });
    expect(calls[0]!.counts).toEqual({ twilio: 2 });
    calls[0]!.land('job-1');
    expect(await done).toBe('job-1');
  });

  it('when reports arrive while a batch is on its way, then they add up into one next batch, each answered with its id', async () => {
    const { calls, send } = manualSend();
    const batcher = new CountBatcher(send);
    const first = batcher.submit({ twilio: 1 });
    await waitFor(() => calls.length === 1, { what: 'the first send' });
    const waiting = [batcher.submit({ twilio: 2 }), batcher.submit({ soniox: 3 }), batcher.submit({ twilio: 4 })];
    expect(calls).toHaveLength(1);
    calls[0]!.land('job-1');
    await waitFor(() => calls.length === 2, { what: 'the second send' });
    expect(calls[1]!.counts).toEqual({ twilio: 6, soniox: 3 });
    calls[1]!.land('job-2');
    expect(await first).toBe('job-1');
    expect(await Promise.all(waiting)).toEqual(['job-2', 'job-2', 'job-2']);
  });

  it('when a batch fails, then every report in it hears so and the next batch still goes', async () => {
    const { calls, send } = manualSend();
    const batcher = new CountBatcher(send);
    const first = batcher.submit({ twilio: 1 });
    await waitFor(() => calls.length === 1, { what: 'the first send' });
    const second = batcher.submit({ twilio: 1 });
    calls[0]!.fail(new Error('Redis is away'));
    await expect(first).rejects.toThrow('Redis is away');
    await waitFor(() => calls.length === 2, { what: 'the second send' });
    calls[1]!.land('job-2');
    expect(await second).toBe('job-2');
  });

  it('when every client that awaits its report is back, then the batch leaves without waiting out the interval', async () => {
    const sends: Array<Record<string, number>> = [];
    // An interval no test waits out: only the early leave can let the rounds through.
    const batcher = new CountBatcher(async (counts) => String(sends.push(counts)), { intervalMs: 600_000 });
    const client = async () => {
      for (let i = 0; i < 20; i++) await batcher.submit({ twilio: 1 });
    };
    await Promise.all(Array.from({ length: 5 }, client));
    // One batch a round, each carrying all five clients.
    expect(sends).toEqual(Array(20).fill({ twilio: 5 }));
  });

  it('when a client that was answered does not come back, then the batch waits out the interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { calls, send } = manualSend();
      const batcher = new CountBatcher(send, { intervalMs: 50 });
      const first = [batcher.submit({ twilio: 1 }), batcher.submit({ twilio: 1 })];
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(1);
      calls[0]!.land('job-1');
      expect(await Promise.all(first)).toEqual(['job-1', 'job-1']);
      // One of the two clients reports again; the other went away.
      const again = batcher.submit({ twilio: 1 });
      await vi.advanceTimersByTimeAsync(49);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(2);
      calls[1]!.land('job-2');
      expect(await again).toBe('job-2');
    } finally {
      vi.useRealTimers();
    }
  });

  it('when a report would take a batch past its rule limit, then it waits for the following batch', async () => {
    const { calls, send } = manualSend();
    const batcher = new CountBatcher(send, { maxRules: 2 });
    void batcher.submit({ a: 1 });
    await waitFor(() => calls.length === 1, { what: 'the first send' });
    void batcher.submit({ b: 1, c: 1 });
    void batcher.submit({ d: 1 });
    calls[0]!.land('1');
    await waitFor(() => calls.length === 2, { what: 'the second send' });
    calls[1]!.land('2');
    await waitFor(() => calls.length === 3, { what: 'the third send' });
    expect(calls.map((c) => c.counts)).toEqual([{ a: 1 }, { b: 1, c: 1 }, { d: 1 }]);
  });
});

describe('SnapshotCache (GET /health/service)', () => {
  it('when callers overlap, then they share one read; after invalidate() the next caller reads afresh', async () => {
    let reads = 0;
    const cache = new SnapshotCache(async () => ++reads, 60_000);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect([a.value, b.value, reads]).toEqual([1, 1, 1]);
    expect((await cache.get()).value).toBe(1);
    cache.invalidate();
    expect((await cache.get()).value).toBe(2);
  });

  it('when the value is past its refresh age, then callers get it at once while one read runs behind, and never older than the max age', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const pending: Array<(v: number) => void> = [];
      const cache = new SnapshotCache(() => new Promise<number>((resolve) => pending.push(resolve)), 250, 100);
      const first = cache.get();
      pending[0]!(1);
      expect(await first).toEqual({ value: 1, ageMs: 0 });
      vi.setSystemTime(1_000_150);
      // Stale but within its bound: answered at once, stating its age, and one read starts.
      expect(await cache.get()).toEqual({ value: 1, ageMs: 150 });
      expect(await cache.get()).toEqual({ value: 1, ageMs: 150 });
      expect(pending).toHaveLength(2);
      pending[1]!(2);
      await Promise.resolve();
      vi.setSystemTime(1_000_160);
      // The new value's age counts from when its read began.
      expect(await cache.get()).toEqual({ value: 2, ageMs: 10 });
      vi.setSystemTime(1_000_500);
      // Past the max age: the caller waits for a fresh read.
      let answered = false;
      const late = cache.get().then((r) => ((answered = true), r));
      await Promise.resolve();
      expect(answered).toBe(false);
      expect(pending).toHaveLength(3);
      pending[2]!(3);
      expect(await late).toEqual({ value: 3, ageMs: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('when a read fails, then it is not kept', async () => {
    let reads = 0;
    const cache = new SnapshotCache(async () => {
      if (++reads === 1) throw new Error('Redis is away');
      return reads;
    }, 60_000);
    await expect(cache.get()).rejects.toThrow('Redis is away');
    expect((await cache.get()).value).toBe(2);
  });
});

describe('POST /health/errors under concurrency', () => {
  it('when 50 requests arrive together, then all are answered 202, fewer jobs carry them, and every count lands once', async () => {
    // A wide interval, so the requests share batches however slowly this machine parses them.
    const t = await startTestHttp(
      { twilio: { threshold_count: 100_000, window_minutes: 10, log_patterns: ['error when making call via twilio'] } },
      { CALLGUARD_INGEST_BATCH_MS: '100' },
    );
    try {
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 2 }, { token: tokenOf('alerts') })),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(50).fill(202));
      const jobIds = new Set(replies.map((r) => r.json.job_id as string));
      figure(`50 concurrent reports travelled in ${jobIds.size} events job(s)`);
      expect(jobIds.size).toBeLessThan(50);
      await waitFor(async () => (await t.cg.counters.sums()).counts.twilio === 100, { what: 'all 100 errors counted' });
      // Counted inside the job; BullMQ marks it completed just after.
      await waitFor(async () => (await Promise.all([...jobIds].map((id) => t.cg.events.getJobState(id)))).every((s) => s === 'completed'), {
        what: 'every batch job completed',
      });
      expect((await t.cg.counters.sums()).counts.twilio).toBe(100);
    } finally {
      await stopTestHttp(t);
    }
  });
});
