/** A pack and its index, named as git names them: `pack-<sha of the pack>`. */
export interface PackFiles {
  readonly name: string;
  readonly pack: Uint8Array;
  readonly idx: Uint8Array;
}
