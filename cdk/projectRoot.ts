import { fileURLToPath } from 'node:url';

/** Project root: entries, the lockfile and cdk.json are resolved from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
