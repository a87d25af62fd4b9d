/** Pack base names (`pack-<sha>`) as listed in `objects/info/packs`, the dumb-HTTP pack index. */
export function parsePacksList(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^P (pack-[0-9a-f]{40,64})\.pack$/.exec(line.trim());
    if (match?.[1] !== undefined) names.push(match[1]);
  }
  return names;
}

/**
 * What git-geo notes about the listed packs, in lines git and other dumb-HTTP clients skip (they
 * read `P` lines only), so a sync learns it from the one file it reads anyway:
 * - `tips`: the tips of the newest stored pack. Every object they reach is in the listed packs,
 *   so a later sync sends them as `have`s even if the sync that stored the pack died before
 *   writing its refs (nothing it stored is fetched again).
 * - `bytes`: each listed pack's size, in list order, for the repacking policy.
 * - `bundle`: the mirror's current bundle (`bundles/<name>.bundle`, see mirrorBundle.ts) and the
 *   pack it was made from, which need not be listed any more (the bundle holds its own copy).
 */
export interface PackListNotes {
  readonly tips?: readonly string[];
  readonly bytes?: ReadonlyMap<string, number>;
  readonly bundle?: BundleNote;
}

/** A bundle a mirror offers to `git clone --bundle-uri`: its name and the pack it was made from. */
export interface BundleNote {
  readonly name: string;
  readonly pack: string;
}

/** At most this many tips are written (heads first): any subset of the tips is a valid set of haves. */
export const MAX_STORED_TIPS = 256;

const TIPS_LINE = /^# git-geo tips((?: [0-9a-f]{40,64})*)$/;
const BYTES_LINE = /^# git-geo bytes((?: \d+)*)$/;
const BUNDLE_LINE = /^# git-geo bundle (bundle-[0-9a-f]{40,64}) (pack-[0-9a-f]{40,64})$/;

export function parsePackListNotes(text: string): PackListNotes {
  const names = parsePacksList(text);
  let tips: string[] = [];
  let bytes: Map<string, number> | undefined;
  let bundle: BundleNote | undefined;
  for (const line of text.split('\n')) {
    const bundleMatch = BUNDLE_LINE.exec(line.trim());
    if (bundleMatch !== null) bundle = { name: bundleMatch[1]!, pack: bundleMatch[2]! };
    const tipsMatch = TIPS_LINE.exec(line.trim());
    if (tipsMatch !== null) tips = (tipsMatch[1] ?? '').split(' ').filter((oid) => oid !== '');
    const bytesMatch = BYTES_LINE.exec(line.trim());
    if (bytesMatch !== null) {
      const sizes = (bytesMatch[1] ?? '').split(' ').filter((size) => size !== '').map(Number);
      if (sizes.length === names.length) bytes = new Map(names.map((name, index) => [name, sizes[index]!]));
    }
  }
  return { tips, ...(bytes === undefined ? {} : { bytes }), ...(bundle === undefined ? {} : { bundle }) };
}

export function formatPacksList(names: readonly string[], notes: PackListNotes = {}): string {
  let text = names.map((name) => `P ${name}.pack\n`).join('');
  const sizes = names.map((name) => notes.bytes?.get(name));
  if (names.length > 0 && sizes.every((size) => size !== undefined)) text += `# git-geo bytes ${sizes.join(' ')}\n`;
  if (notes.bundle !== undefined) text += `# git-geo bundle ${notes.bundle.name} ${notes.bundle.pack}\n`;
  if ((notes.tips?.length ?? 0) > 0) text += `# git-geo tips ${notes.tips!.slice(0, MAX_STORED_TIPS).join(' ')}\n`;
  return text + '\n';
}
