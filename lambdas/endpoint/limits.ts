/**
 * What Lambda allows a streamed Function URL response (Lambda developer guide, "Bandwidth limits
 * for response streaming"): the first 6 MB uncapped, then 2 MB/s, 200 MB at most. `git-geo local`
 * enforces the same figures.
 */
export const LAMBDA_STREAMING = { burstBytes: 6 * 1024 * 1024, bytesPerSecond: 2 * 1024 * 1024, maxBytes: 200 * 1024 * 1024 } as const;
/** Lambda streams responses up to 200 MB; a repository whose packs are larger is read from the primary. */
export const MAX_STREAMED_PACK_BYTES = 190 * 1024 * 1024;
/** /tmp of an endpoint instance (Lambda ephemeral storage), where it keeps packs to read objects from (memory stays bounded). */
export const ENDPOINT_EPHEMERAL_MIB = 4096;
/** Pack bytes an endpoint instance keeps in /tmp: its ephemeral storage, less room for the rest. */
export const ENDPOINT_PACK_CACHE_BYTES = (ENDPOINT_EPHEMERAL_MIB - 512) * 1024 * 1024;
/**
 * Objects one request's object walk may visit (commits, trees, blobs, tags): a walk holds about
 * 650 bytes of heap per object it visits (measured on expressjs/express), so 1,000,000 is about
 * 620 MiB of the function's 1,024 MB. A clone by `fetch.uriProtocols` or of every ref needs no walk.
 */
export const MAX_WALK_OBJECTS = 1_000_000;
/** A pack the endpoint builds goes by URL from this size, for a client that takes `packfile-uris`: past it, Lambda streams at 2 MB/s. */
export const PACK_URI_MIN_BYTES = LAMBDA_STREAMING.burstBytes;
/**
 * How long a pack built for one request answers the same request again (CI runners cloning
 * one commit): well inside the day after which the download bucket expires it. A sync that
 * changes the mirror changes the key, so a reused pack is never older than the mirror.
 */
export const PACK_REUSE_SECONDS = 3600;
/** Parts of a built pack's upload, two in flight (64 MiB of memory at most): a pack up to this size goes up in one PutObject, not four requests. */
export const PACK_UPLOAD_PART_BYTES = 32 * 1024 * 1024;
