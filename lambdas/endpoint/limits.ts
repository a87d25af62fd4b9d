/** Lambda streams responses up to 200 MB; a repository whose packs are larger is read from the primary. */
export const MAX_STREAMED_PACK_BYTES = 190 * 1024 * 1024;
