import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BeforeHookResult, HookContext } from '@bull-board/api/typings/app';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import { ForbiddenError } from '../../domain/errors.js';
import type { BoardDeps } from '../api/ports.js';
import type { Principal } from '../auth/principals.js';
import { BOARD_PATH } from './login.js';

/** The board lists callguard's own queues under this prefix, so a dispatch queue named "events" cannot collide. */
const OWN_PREFIX = 'callguard.';

/**
 * A dispatch queue on the admin board. Its pause/resume buttons never touch BullMQ directly: the
 * board's before-hook has already placed (or released) a hold, and the enforcer moves the queue
 * to match. A direct Queue.pause() would be a silent override that the next tick undoes.
 */
class HeldQueueAdapter extends BullMQAdapter {
  override async pause(): Promise<void> {}
  override async resume(): Promise<void> {}
}

/** callguard's own events queue: error reports, alerts and the evaluator run there, so it is never paused (and read-only on the board). */
class EventsQueueAdapter extends BullMQAdapter {
  override async pause(): Promise<void> {
    throw new ForbiddenError("callguard's events queue is never paused");
  }
}

const deny = (message: string): BeforeHookResult => ({ allow: false, status: 403, message });

/**
 * Two boards on one path: admins get a writable one whose dispatch-queue pause/resume become
 * holds; viewers get one where every queue is read-only. Returns the middleware that picks the
 * board by role; the caller has already required a signed-in viewer or admin.
 */
export function boards(deps: BoardDeps): RequestHandler {
  const dispatchNames = new Set(deps.dispatch.map((q) => q.name));
  // Bull Board hands its hooks a copy of the request holding the same `headers` object, and
  // nothing else of Express: the signed-in principal travels keyed by that object.
  const actors = new WeakMap<object, Principal>();
  const eventsName = `${OWN_PREFIX}${deps.events.name}`;
  const own = { prefix: OWN_PREFIX, description: "callguard's own queue" };

  const ownNames = new Set([eventsName, `${OWN_PREFIX}${deps.notifications.name}`]);

  const before = async ({ method, route, request }: HookContext): Promise<BeforeHookResult> => {
    if (method === 'get') return;
    const who = actors.get(request.headers);
    const queue = String(request.params?.queueName ?? '');
    // Every write to callguard's own queues could switch the kill switch off: a rate limit stops
    // error reports being counted, a removed scheduler stops the evaluator, an added job forges
    // an actor, a paused notifications queue silences Slack. Read-only here as well as per adapter.
    if (ownNames.has(queue)) return deny(`${queue} is callguard's own queue; it is read-only on the board`);
    if (method !== 'put') return;
    if (route === '/api/queues/pause') {
      return deny("Pause all would pause callguard's own events queue; pause dispatch queues one at a time, or POST /health/pause");
    }
    if (route === '/api/queues/:queueName/pause' && queue === eventsName) {
      return deny("callguard's events queue carries error reports, alerts and the evaluator; it is never paused");
    }
    const pausing = route === '/api/queues/:queueName/pause' && dispatchNames.has(queue);
    const resuming = (route === '/api/queues/:queueName/resume' && dispatchNames.has(queue)) || route === '/api/queues/resume';
    if (!pausing && !resuming) return;
    if (!who) return deny('no signed-in principal');
    if (pausing) await deps.holds.pause({ by: who.name, queues: [queue], reason: 'paused from Bull Board' });
    else
      await deps.holds.resume({
        by: who.name,
        queues: route === '/api/queues/resume' ? undefined : [queue],
        reason: 'resumed from Bull Board',
      });
    return;
  };

  const build = (readOnlyMode: boolean) => {
    const server = new ExpressAdapter().setBasePath(BOARD_PATH);
    const dispatch = deps.dispatch.map((q) =>
      readOnlyMode
        ? new BullMQAdapter(q, { readOnlyMode })
        : new HeldQueueAdapter(q, { description: 'dispatch queue: pause/resume place and release callguard holds' }),
    );
    const ownQueues = [
      new EventsQueueAdapter(deps.events, { ...own, readOnlyMode: true }),
      new BullMQAdapter(deps.notifications, { ...own, readOnlyMode: true }),
    ];
    createBullBoard({
      queues: [...dispatch, ...ownQueues],
      serverAdapter: server,
      options: {
        uiConfig: {
          boardTitle: readOnlyMode ? 'callguard (read-only)' : 'callguard',
          miscLinks: [
            { text: 'Console', url: '/admin/' },
            { text: 'Sign out', url: '/admin/logout' },
          ],
        },
        ...(readOnlyMode ? {} : { handlerHooks: { before } }),
      },
    });
    const router = server.getRouter() as RequestHandler & { disable?: (setting: string) => void };
    // The adapter is its own Express app, which would set X-Powered-By again below helmet.
    router.disable?.('x-powered-by');
    return router;
  };

  const admin = build(false);
  const viewer = build(true);
  return (req, res, next) => {
    if (req.user?.role !== 'admin') return viewer(req, res, next);
    actors.set(req.headers, { name: req.user.name, role: req.user.role });
    return admin(req, res, next);
  };
}
