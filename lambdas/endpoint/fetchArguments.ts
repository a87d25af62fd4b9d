import { PayloadTooLargeError, ValidationError } from '../shared/errors/index.ts';
import type { ObjectFilter } from '../shared/git/objects/selectObjects.ts';
import { countPktLines } from '../shared/git/pktLine.ts';

/**
 * What one upload-pack request may cost, whatever the protocol version. Lines past these are
 * refused with a clear error before any object is read (duplicates are counted once).
 */
export const FETCH_LIMITS = {
  /** Distinct objects wanted: above the ref count of the largest repositories (a mirror clone wants every tip). */
  maxWants: 100_000,
  /** Distinct haves: git sends at most a few thousand over a whole negotiation. */
  maxHaves: 50_000,
  /** Distinct shallow commits the client says it has. */
  maxShallows: 50_000,
  /** deepen-not names. */
  maxDeepenNot: 256,
  /** Lines of any kind, duplicates included: room for every want and have above, and no more. */
  maxLines: 200_000,
} as const;

/** Refuses a request of more lines than one may have, before any line is decoded. */
export function assertLineCount(body: Buffer): void {
  if (countPktLines(body, FETCH_LIMITS.maxLines) > FETCH_LIMITS.maxLines) throw new PayloadTooLargeError(`an upload-pack request of more than ${FETCH_LIMITS.maxLines} lines`);
}

const URI_PROTOCOLS = 'packfile-uris ';

/** Whether a v2 fetch line is `packfile-uris <protocols>` (not a FetchArguments line: it says how packs may travel). */
export const isUriProtocolsLine = (line: string): boolean => line.startsWith(URI_PROTOCOLS);

/** The URL schemes a v2 fetch takes packs from (`packfile-uris https,http`, from fetch.uriProtocols); none without the line. */
export function uriProtocols(lines: readonly string[]): string[] {
  return lines.find(isUriProtocolsLine)?.slice(URI_PROTOCOLS.length).split(',') ?? [];
}

/** What a fetch asks for, parsed and checked, with repeated ids counted once. */
export interface FetchArguments {
  readonly wants: readonly Buffer[];
  readonly haves: readonly Buffer[];
  readonly clientShallows: readonly Buffer[];
  readonly depth?: number;
  /** deepen-since: seconds since the epoch. */
  readonly deepenSince?: number;
  /** deepen-not: ref names or object ids, as the client sent them. */
  readonly deepenNot: readonly string[];
  readonly deepenRelative: boolean;
  readonly filter?: ObjectFilter;
  readonly done: boolean;
  readonly thinPack: boolean;
  readonly includeTag: boolean;
  readonly ofsDelta: boolean;
}

const OID = /^[0-9a-f]{40}$/;
/** What `git fetch --unshallow` asks for: `deepen 2147483647`. */
export const INFINITE_DEPTH = 0x7fffffff;

/** Collects fetch lines (`want`, `have`, `shallow`, `deepen*`, `filter`, `done`) one at a time, deduplicating ids. */
export class FetchArgumentsBuilder {
  private readonly wants = new Set<string>();
  private readonly haves = new Set<string>();
  private readonly shallows = new Set<string>();
  private readonly deepenNot: string[] = [];
  private depth: number | undefined;
  private deepenSince: number | undefined;
  private filter: ObjectFilter | undefined;
  private lines = 0;
  done = false;
  deepenRelative = false;
  thinPack = false;
  includeTag = false;
  ofsDelta = false;

  /** Counts a line that repeats one already taken. */
  count(): void {
    if (++this.lines > FETCH_LIMITS.maxLines) throw new PayloadTooLargeError(`an upload-pack request of more than ${FETCH_LIMITS.maxLines} lines`);
  }

  /** Takes one line; false when it is not a fetch argument this builder knows. */
  add(line: string): boolean {
    this.count();
    const space = line.indexOf(' ');
    const name = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    switch (name) {
      case 'want':
        addId(this.wants, value, 'want', FETCH_LIMITS.maxWants);
        return true;
      case 'have':
        addId(this.haves, value, 'have', FETCH_LIMITS.maxHaves);
        return true;
      case 'shallow':
        addId(this.shallows, value, 'shallow', FETCH_LIMITS.maxShallows);
        return true;
      case 'deepen': {
        const depth = Number(value);
        if (!/^\d+$/.test(value) || !Number.isSafeInteger(depth) || depth < 1) throw new ValidationError('deepen takes a positive number of commits', { data: { line: line.slice(0, 80) } });
        this.depth = Math.min(depth, INFINITE_DEPTH);
        return true;
      }
      case 'deepen-since': {
        if (!/^-?\d{1,15}$/.test(value)) throw new ValidationError('deepen-since takes a time in seconds since the epoch', { data: { line: line.slice(0, 80) } });
        this.deepenSince = Number(value);
        return true;
      }
      case 'deepen-not':
        if (value === '' || value.length > 1024) throw new ValidationError('deepen-not takes a ref name', { data: { line: line.slice(0, 80) } });
        if (this.deepenNot.length >= FETCH_LIMITS.maxDeepenNot) throw new PayloadTooLargeError(`more than ${FETCH_LIMITS.maxDeepenNot} deepen-not lines`);
        this.deepenNot.push(value);
        return true;
      case 'deepen-relative':
        this.deepenRelative = true;
        return true;
      case 'filter':
        this.filter = parseFilter(value);
        return true;
      case 'done':
        this.done = true;
        return true;
      case 'thin-pack':
        this.thinPack = true;
        return true;
      case 'include-tag':
        this.includeTag = true;
        return true;
      case 'ofs-delta':
        this.ofsDelta = true;
        return true;
      default:
        return false;
    }
  }

  build(): FetchArguments {
    if (this.depth !== undefined && (this.deepenSince !== undefined || this.deepenNot.length > 0)) {
      throw new ValidationError('deepen and deepen-since (or deepen-not) cannot be used together');
    }
    const ids = (set: Set<string>): Buffer[] => [...set].map((hex) => Buffer.from(hex, 'hex'));
    return {
      wants: ids(this.wants),
      haves: ids(this.haves),
      clientShallows: ids(this.shallows),
      ...(this.depth === undefined ? {} : { depth: this.depth }),
      ...(this.deepenSince === undefined ? {} : { deepenSince: this.deepenSince }),
      deepenNot: this.deepenNot,
      deepenRelative: this.deepenRelative,
      ...(this.filter === undefined ? {} : { filter: this.filter }),
      done: this.done,
      thinPack: this.thinPack,
      includeTag: this.includeTag,
      ofsDelta: this.ofsDelta,
    };
  }
}

function addId(set: Set<string>, value: string, name: string, limit: number): void {
  // v0 puts capabilities after the first want's id.
  const hex = value.length > 40 && value[40] === ' ' ? value.slice(0, 40) : value;
  if (set.has(hex)) return;
  if (!OID.test(hex)) throw new ValidationError(`malformed ${name} line`, { data: { line: `${name} ${value}`.slice(0, 80) } });
  if (set.size >= limit) throw new PayloadTooLargeError(`more than ${limit} distinct ${name} lines in one upload-pack request`);
  set.add(hex);
}

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A `filter` spec a region serves: blob:none, blob:limit=<n>[kmg], tree:<depth>. */
export function parseFilter(spec: string): ObjectFilter {
  if (spec === 'blob:none') return { kind: 'blob:limit', bytes: 0 };
  const limit = /^blob:limit=(\d{1,15})([kmg]?)$/i.exec(spec);
  if (limit !== null) return { kind: 'blob:limit', bytes: Number(limit[1]) * UNITS[limit[2]!.toLowerCase()]! };
  const tree = /^tree:(\d{1,9})$/.exec(spec);
  if (tree !== null) return { kind: 'tree', depth: Number(tree[1]) };
  throw new ValidationError(`filter ${JSON.stringify(spec.slice(0, 60))} is not served by git-geo regions: blob:none, blob:limit=<n> and tree:<depth> are`);
}
