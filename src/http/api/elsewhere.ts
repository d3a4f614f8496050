/**
 * Routes served outside the JSON API registry, declared here so the document still describes
 * them: Slack interactions (raw body: the signature covers the exact bytes) and the Bull Board's
 * HTML sign-in forms. The board itself has its own internal API and is not described.
 */
import { z } from 'zod';
import type { RouteContract } from './route.js';
import { errorViewSchema, slackReplyViewSchema } from './views.js';

const html = 'text/html';
const redirect = (to: string, description = `Redirect to ${to}.`) => ({ description, headers: { Location: 'Where to go.' } });
const originCheck = {
  description: 'Cross-site request: the Origin is not this host (or missing, without Sec-Fetch-Site: same-origin).',
  schema: errorViewSchema,
};

export const documentedElsewhere: RouteContract[] = [
  {
    method: 'post',
    path: '/slack/interactions',
    operationId: 'postSlackInteraction',
    tag: 'slack',
    summary: 'Slack button presses (Resume)',
    description:
      'Answers at once; the resume runs as a slack-action job. Only CALLGUARD_SLACK_ADMINS may resume; others get an ephemeral reply.',
    access: 'slack',
    form: z.object({ payload: z.string().meta({ description: 'Slack’s JSON payload.' }) }),
    responses: {
      200: { description: 'Accepted (empty body), or an ephemeral reply to the presser.', schema: slackReplyViewSchema },
      409: { description: 'replayed: this signed Slack request was already accepted.', schema: errorViewSchema },
      503: { description: 'SLACK_SIGNING_SECRET is not set.', schema: errorViewSchema },
    },
    shared: ['BadRequest', 'Unauthorized', 'PayloadTooLarge', 'UnsupportedMediaType'],
  },
  {
    method: 'get',
    path: '/admin/login',
    operationId: 'getLoginPage',
    tag: 'board',
    summary: 'Bull Board sign-in form',
    access: 'public',
    responses: { 200: { description: 'The form.', media: html }, 303: redirect('/admin/queues/ (already signed in)') },
  },
  {
    method: 'post',
    path: '/admin/login',
    operationId: 'login',
    tag: 'board',
    summary: 'Sign in to the Bull Board',
    description: 'Needs an Origin of this host (or Sec-Fetch-Site: same-origin). Failed sign-ins are rate limited per address and name.',
    access: 'public',
    form: z.object({ name: z.string(), secret: z.string().meta({ format: 'password' }) }),
    responses: {
      303: redirect('/admin/queues/', 'Signed in: the session cookie is set and the browser goes to the board.'),
      401: { description: 'Unknown name or wrong secret: the form again, with the error.', media: html },
      403: originCheck,
      429: { description: 'Too many failed sign-ins (CALLGUARD_LOGIN_ATTEMPTS per 15 minutes).', media: html },
    },
    shared: ['PayloadTooLarge', 'UnsupportedMediaType'],
  },
  {
    method: 'get',
    path: '/admin/logout',
    operationId: 'getLogoutPage',
    tag: 'board',
    summary: 'Sign-out form',
    access: 'session',
    responses: { 200: { description: 'The form.', media: html }, 303: redirect('/admin/login (not signed in)') },
  },
  {
    method: 'post',
    path: '/admin/logout',
    operationId: 'logout',
    tag: 'board',
    summary: 'Sign out: the session is deleted',
    access: 'session',
    responses: { 303: redirect('/admin/login'), 403: originCheck },
  },
];
