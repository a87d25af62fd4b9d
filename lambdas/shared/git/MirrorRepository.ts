import type { RepositoryPath } from '../repositoryPath.ts';
import type { ObjectStore } from '../storage/ObjectStore.ts';
import { formatInfoRefs, parseInfoRefs } from './infoRefs.ts';
import { createReadStream } from 'node:fs';
import type { FetchedPack } from './PackFiles.ts';
import { formatPackedRefs } from './packedRefs.ts';
import { formatPacksList, parsePackListNotes, parsePacksList, type BundleNote } from './packsList.ts';
import { sameEntries, sortedRefNames, type RefSnapshot } from './RefSnapshot.ts';

/** Where removed mirrors' packs are kept for snapshots (see lambdas/backup/SnapshotManifest.ts). */
export const RETIRED_PACKS_PREFIX = '.git-geo/packs/';

/** What a mirror holds: its refs and the packs that carry their objects. */
export interface MirrorState {
  readonly snapshot: RefSnapshot;
  readonly packs: readonly string[];
  /**
   * Tips of the newest stored pack (written with the pack list, before the refs): objects the
   * mirror holds whether or not the sync that fetched them lived to publish its refs.
   */
  readonly storedTips?: readonly string[];
  /** Each pack's size in bytes, where known (the repacking policy weighs packs by it). */
  readonly packBytes?: ReadonlyMap<string, number>;
  /** The bundle `git clone --bundle-uri` is pointed at, if the mirror has one (mirrorBundle.ts). */
  readonly bundle?: BundleNote;
}

const TEXT = { contentType: 'text/plain; charset=utf-8' };
/** A mirror's `config`: a bare repository, as a download of the prefix must be. */
export const BARE_CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = false\n\tbare = true\n';

/** Key prefix of a repository's mirror: `<path>.git/`. */
export function mirrorPrefix(repository: RepositoryPath): string {
  return `${repository}.git/`;
}

/** The files that make a prefix a repository and name its refs, in the order a publish writes them. */
const REF_FILES = ['packed-refs', 'info/refs', 'HEAD'];

/** Objects first (packs before their indexes), then everything else, the ref files last. */
function writeRank(relative: string): number {
  if (relative.endsWith('.pack')) return 0;
  if (relative.endsWith('.idx')) return 1;
  const ref = REF_FILES.indexOf(relative);
  return ref < 0 ? 2 : 3 + ref;
}

/**
 * One repository's mirror: an ordinary bare repository in an object store, kept
 * readable by stock git over dumb HTTP (`info/refs`, `objects/info/packs`, `HEAD`)
 * and by a plain download (`packed-refs`, `config`).
 *
 * Writes are ordered so that no reader ever sees a ref before its objects:
 * pack and index, then the pack list, then the refs, then HEAD. A crash at any
 * point leaves either the old refs or the new ones, each with all its objects.
 */
export class MirrorRepository {
  readonly prefix: string;

  constructor(
    readonly store: ObjectStore,
    readonly repository: RepositoryPath,
  ) {
    this.prefix = mirrorPrefix(repository);
  }

  key(relative: string): string {
    return this.prefix + relative;
  }

  /** Every object of the mirror, as paths relative to its prefix, in the order a writer must write them. */
  async files(): Promise<string[]> {
    const files: string[] = [];
    for await (const object of this.store.list(this.prefix)) files.push(object.key.slice(this.prefix.length));
    return files.sort((a, b) => writeRank(a) - writeRank(b) || a.localeCompare(b));
  }

  /**
   * Copies the mirror under another prefix, server-side (no bytes pass through the sync), in
   * write order: a crash leaves the target with no refs yet, or complete. Idempotent.
   */
  async copyTo(targetPrefix: string): Promise<number> {
    const files = await this.files();
    for (const file of files) await this.store.copy(this.key(file), targetPrefix + file);
    return files.length;
  }

  /**
   * Deletes the mirror: the ref files first, so that from the first delete on it is no
   * longer a repository anyone can read refs from, then its objects. Idempotent.
   * Packs are first copied (server-side) under `.git-geo/packs/` by name, so point-in-time
   * snapshots taken before keep their objects; the backup garbage collector drops the ones
   * no retained snapshot names.
   */
  async remove(): Promise<void> {
    const files = (await this.files()).reverse();
    for (const file of files) {
      const pack = /^objects\/pack\/(pack-[0-9a-f]+\.(?:pack|idx))$/.exec(file);
      if (pack !== null) await this.store.copy(this.key(file), `${RETIRED_PACKS_PREFIX}${pack[1]}`);
    }
    const refFiles = files.filter((file) => REF_FILES.includes(file));
    await this.store.delete(refFiles.map((file) => this.key(file)));
    await this.store.delete(files.filter((file) => !REF_FILES.includes(file)).map((file) => this.key(file)));
  }

  /** The mirror's current state, or undefined when nothing has been mirrored yet. Three GETs. */
  async readState(): Promise<MirrorState | undefined> {
    const [head, infoRefs, packs] = await Promise.all([
      this.store.get(this.key('HEAD')),
      this.store.get(this.key('info/refs')),
      this.store.get(this.key('objects/info/packs')),
    ]);
    if (head === undefined && infoRefs === undefined) return undefined;
    const headText = head?.toString('utf8').trim() ?? '';
    const target = headText.startsWith('ref: ') ? headText.slice(5) : undefined;
    const packsText = packs?.toString('utf8') ?? '';
    const notes = parsePackListNotes(packsText);
    return {
      snapshot: parseInfoRefs(infoRefs?.toString('utf8') ?? '', target),
      packs: parsePacksList(packsText),
      ...(notes.tips === undefined ? {} : { storedTips: notes.tips }),
      ...(notes.bytes === undefined ? {} : { packBytes: notes.bytes }),
      ...(notes.bundle === undefined ? {} : { bundle: notes.bundle }),
    };
  }

  /**
   * Uploads a pack and its index, side by side: neither is visible to readers until it is listed.
   * A spooled pack is streamed from its file (multipart when big), never read into memory whole.
   */
  async writePack(files: FetchedPack): Promise<void> {
    const packKey = this.key(`objects/pack/${files.name}.pack`);
    const uploadPack = 'packPath' in files ? this.store.putStream(packKey, createReadStream(files.packPath, { highWaterMark: 1 << 20 })) : this.store.put(packKey, files.pack);
    await Promise.all([uploadPack, this.store.put(this.key(`objects/pack/${files.name}.idx`), files.idx)]);
  }

  /**
   * Makes `next` the mirror's state. Every pack in `next.packs` must already be written.
   * Skips files whose content does not change, so a no-op publish costs nothing.
   */
  async publish(next: MirrorState, previous: MirrorState | undefined): Promise<void> {
    if (previous === undefined) {
      await this.store.put(this.key('config'), BARE_CONFIG, TEXT);
      await this.store.put(this.key('description'), `Mirror of ${this.repository}, kept by git-geo\n`, TEXT);
      // git only recognises a directory with refs/ in it as a repository; S3 has no empty folders.
      await this.store.put(this.key('refs/heads/.keep'), '', TEXT);
    }
    const packsText = formatPacksList(next.packs, { tips: next.storedTips, bytes: next.packBytes, bundle: next.bundle });
    if (previous === undefined || packsText !== formatPacksList(previous.packs, { tips: previous.storedTips, bytes: previous.packBytes, bundle: previous.bundle })) {
      await this.store.put(this.key('objects/info/packs'), packsText, TEXT);
    }
    // Compared as maps, not as formatted text: formatting sorts every ref (100,000 on a big repository).
    if (previous === undefined || !sameEntries(next.snapshot.refs, previous.snapshot.refs) || !sameEntries(next.snapshot.peeled, previous.snapshot.peeled)) {
      const names = sortedRefNames(next.snapshot.refs);
      // info/refs last: readState trusts it, so it is written only once packed-refs agrees with it
      // (written together, a crash could leave packed-refs behind for good).
      await this.store.put(this.key('packed-refs'), formatPackedRefs(next.snapshot, names), TEXT);
      await this.store.put(this.key('info/refs'), formatInfoRefs(next.snapshot, names), TEXT);
    }
    if (previous === undefined || next.snapshot.head !== previous.snapshot.head) {
      // A repository with no branch still needs a HEAD; git's own default is a branch to be.
      await this.store.put(this.key('HEAD'), `ref: ${next.snapshot.head ?? 'refs/heads/main'}\n`, TEXT);
    }
  }
}
