import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EngineEmitter } from '../src/engine/events.js';

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

describe('the engine emitter', () => {
  it('when a listener throws or rejects, then the others still run and the failure is logged with its name and event', async () => {
    const { lines, logger } = logged();
    const emitter = new EngineEmitter(logger);
    const seen: string[] = [];
    emitter.on(
      'evaluated',
      () => {
        throw new Error('sync boom');
      },
      'thrower',
    );
    emitter.on(
      'evaluated',
      async () => {
        throw new Error('async boom');
      },
      'rejecter',
    );
    emitter.on('evaluated', (seconds, full) => void seen.push(`${seconds}:${full}`), 'good');

    await expect(emitter.emit('evaluated', 0.5, true)).resolves.toBeUndefined();
    expect(seen).toEqual(['0.5:true']);
    const failures = lines.filter((l) => l.msg === 'event listener failed');
    expect(failures.map((l) => [l.event, l.listener, (l.err as { message: string }).message]).sort()).toEqual([
      ['evaluated', 'rejecter', 'async boom'],
      ['evaluated', 'thrower', 'sync boom'],
    ]);
    expect(failures.every((l) => l.level === 50)).toBe(true);
  });

  it('when a listener unsubscribes, then it is not called again', async () => {
    const emitter = new EngineEmitter(logged().logger);
    let calls = 0;
    const off = emitter.on('changes', () => void calls++);
    await emitter.emit('changes', []);
    off();
    await emitter.emit('changes', []);
    expect(calls).toBe(1);
  });
});
