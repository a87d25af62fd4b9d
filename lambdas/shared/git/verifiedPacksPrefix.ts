/** Where the verifier records the packs it has verified (shared with cdk/, which grants the one write). */
export const VERIFIED_PACKS_PREFIX = '.git-geo/verified-packs/';
