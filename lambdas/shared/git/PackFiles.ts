import type { SpooledPack } from './pack/PackIndexer.ts';

/** A pack and its index, named as git names them: `pack-<sha of the pack>`. */
export interface PackFiles {
  readonly name: string;
  readonly pack: Uint8Array;
  readonly idx: Uint8Array;
}

/** A fetched pack: in memory (isomorphic-git engine), or spooled to a local file (native engine). */
export type FetchedPack = PackFiles | SpooledPack;

export function packSize(pack: FetchedPack): number {
  return 'packPath' in pack ? pack.packSize : pack.pack.length;
}
