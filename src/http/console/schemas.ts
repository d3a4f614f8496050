import { z } from 'zod';
import { resumeBody } from '../api/schemas.js';

/** POST /health/resume's body, plus `holds`: release exactly these holds (the console's per-hold Resume). */
export const consoleResumeBody = resumeBody
  .extend({ holds: z.array(z.string().min(1).max(300)).min(1).max(100).optional() })
  .refine((b) => !(b.holds && b.queues), { message: 'send holds or queues, not both' });
