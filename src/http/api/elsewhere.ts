/**
 * Routes served outside the registry, declared here so the document still describes them: the
 * Bull Board's HTML sign-in and sign-out forms (passport's login flow). The board itself has its
 * own internal API and is not described.
 */
import { z } from 'zod';
import type { RouteContract } from './route.js';
import { errorViewSchema } from './views.js';

const html = 'text/html';
const redirect = (to: string, description = `Redirect to ${to}.`) => ({ description, headers: { Location: 'Where to go.' } });
const originCheck = {
  description: 'Cross-site request: the Origin is not this host (or missing, without Sec-Fetch-Site: same-origin).',
  schema: errorViewSchema,
};

export const documentedElsewhere: RouteContract[] = [
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
