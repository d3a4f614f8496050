/** The bar every configured secret must clear: CALLGUARD_USERS secrets, session and webhook secrets. */
export const MIN_SECRET_LENGTH = 32;

// .env.example ships `change-me-…` values; a copied example must not become a live credential.
const PLACEHOLDER = /change-?me/i;

export const GENERATE_HINT = 'generate one with: npx --no-install callguard hash-secret --generate (or openssl rand -hex 32)';

/** Why a plain secret is too weak, or undefined when it is fine. The reason never contains the secret. */
export function weakSecretReason(secret: string): string | undefined {
  if (PLACEHOLDER.test(secret)) return `is a placeholder from .env.example; ${GENERATE_HINT}`;
  if (secret.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters; ${GENERATE_HINT}`;
  return undefined;
}
