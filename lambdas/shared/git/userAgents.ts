/**
 * The user agent each git-geo function sends to the primary: a Git host's logs tell its traffic
 * apart, and so do the benchmarks (a read answered by the primary against scheduled work).
 */
export const USER_AGENTS = {
  sync: 'git-geo',
  verify: 'git-geo-verify',
  endpoint: 'git-geo-endpoint',
  backfill: 'git-geo-backfill',
} as const;
