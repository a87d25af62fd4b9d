/**
 * Where tombstoned mirrors go in a region's bucket: `<prefix><time>/<path>.git/`. Repository paths
 * cannot start with '.', so this never collides with a mirror. The bucket expires it after
 * `tombstoneRetentionDays`.
 */
export const TOMBSTONE_PREFIX = '.git-geo/tombstones/';
