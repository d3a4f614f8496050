import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_COUNT } from '../src/jobs/contract.js';

describe('shared limits', () => {
  it("the Python client's MAX_COUNT equals the server's", () => {
    const python = readFileSync('clients/python/callguard_client.py', 'utf8');
    const copy = /^MAX_COUNT = ([\d_]+)/m.exec(python)?.[1];
    expect(copy, 'MAX_COUNT in clients/python/callguard_client.py').toBeDefined();
    expect(Number(copy!.replace(/_/g, ''))).toBe(MAX_COUNT);
  });
});
