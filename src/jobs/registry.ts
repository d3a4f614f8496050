import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { formatIssues } from '../domain/zod-issues.js';

/** What a handler may know about its job besides the validated data. */
export interface JobInfo {
  id?: string;
  name: string;
  /** When the job was enqueued (the enqueuing client's clock, ms). */
  timestamp: number;
  /** The data exactly as stored, for checks over its exact form (a job's signature). */
  data: unknown;
}

/** One job of the events queue: its public name, the schema of its data, and what it does. */
export interface EventsJob<S extends z.ZodType = z.ZodType> {
  name: string;
  schema: S;
  // Method syntax on purpose: jobs with different data types share one registry list.
  handler(data: z.output<S>, job: JobInfo): Promise<unknown>;
  /** Told when data fails the schema, before the job fails for good (to log and audit it); may throw its own error. */
  refused?(reason: string, job: JobInfo): Promise<unknown>;
}

/** Declares a job once; the handler's data type comes from the schema. */
export function defineJob<S extends z.ZodType>(job: EventsJob<S>): EventsJob<S> {
  return job;
}

export type JobRegistry = ReadonlyMap<string, EventsJob>;

export function registry(jobs: EventsJob[]): JobRegistry {
  const byName = new Map<string, EventsJob>();
  for (const job of jobs) {
    if (byName.has(job.name)) throw new Error(`events job "${job.name}" is declared twice`);
    byName.set(job.name, job);
  }
  return byName;
}

/** Validates a job's data against its declaration and runs it; unknown names and invalid data fail for good. */
export async function dispatch(jobs: JobRegistry, job: Pick<Job, 'id' | 'name' | 'data' | 'timestamp'>): Promise<unknown> {
  const declared = jobs.get(job.name);
  if (!declared) throw new UnrecoverableError(`unknown job name "${job.name}"`);
  const info: JobInfo = { id: job.id, name: job.name, timestamp: job.timestamp, data: job.data };
  const parsed = declared.schema.safeParse(job.data);
  if (!parsed.success) {
    const reason = formatIssues(parsed.error);
    await declared.refused?.(reason, info);
    throw new UnrecoverableError(`invalid ${job.name} data: ${reason}`);
  }
  return declared.handler(parsed.data, info);
}
