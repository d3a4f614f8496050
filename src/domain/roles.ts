/** Who may do what. A principal has one role; admin may do everything any other role may. */
export const ROLES = ['admin', 'viewer', 'alerts'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` may do what `allowed` may: it is one of them, or admin. */
export const allows = (allowed: readonly Role[], role: Role): boolean => role === 'admin' || allowed.includes(role);

/** The roles a route open to `allowed` actually admits, as documented (admin included). */
export const admitted = (allowed: readonly Role[]): Role[] => [...new Set<Role>([...allowed, 'admin'])];

/**
 * The names callguard itself acts under: its own transitions, a webhook sender authenticated by
 * signature, and an unsigned alert job added straight to the events queue. Holds are owned by
 * name, so no configured principal may take one of these (it could release what they placed).
 */
export const BUILT_IN_PRINCIPALS = { system: 'callguard', webhook: 'webhook', unsignedJob: 'bullmq' } as const;

/** Who may cause a hold-changing job: a principal's role, or `slack` for a verified Slack admin. */
export const ACTOR_ROLES = [...ROLES, 'slack'] as const;
export type ActorRole = (typeof ACTOR_ROLES)[number];
