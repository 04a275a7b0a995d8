import { createHash, hash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing with SHA-256, for the per-tenant
 * tamper-evident access log. The server stores only perfect aligned subtrees (see {@link NodeRef});
 * proofs are computed as *plans* (which stored nodes are needed), fetched in one query, then folded.
 * Sizes and indexes are JS numbers, so all bit arithmetic here is done with division, not `>>`,
 * which would truncate above 2^31.
 */

/** Size in bytes of every hash in the tree. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data). The prefix keeps leaves and nodes apart. */
export function leafHash(data: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

// One buffer for every interior hash's input: `hash` is synchronous and reads it before it returns.
const nodeInput = Buffer.concat([NODE_PREFIX, Buffer.alloc(2 * HASH_SIZE)]);

/**
 * RFC 9162 §2.1.1 interior hash: SHA-256(0x01 || left || right). One-shot over one buffer, and
 * for two hashes a buffer written in place rather than a new one: the sealer makes about one of
 * these a leaf on the event loop, where a Hash object with three updates costs half as much again
 * and allocating the input a third.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return hash('sha256', nodeInput, 'buffer');
}

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** A perfect aligned subtree: covers leaves [index·2^level, (index+1)·2^level); level 0 is a leaf. */
export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** Largest power of two <= n (n >= 1); corrected because Math.log2 may round near 2^53. */
function floorPow2(n: number): number {
  let p = 2 ** Math.floor(Math.log2(n));
  while (p > n) p /= 2;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** Largest power of two strictly smaller than n (n >= 2): RFC 9162's split point k. */
function splitPoint(n: number): number {
  const p = floorPow2(n);
  return p === n ? p / 2 : p;
}

/** Whether x is odd, for x up to 2^53 (`x & 1` would truncate to 32 bits first). */
const odd = (x: number) => x % 2 === 1;
const half = (x: number) => Math.floor(x / 2);

/**
 * The perfect aligned subtrees that make up MTH(D[start:end]), left to right, largest first (the
 * binary decomposition of end-start). Valid for the ranges RFC 9162's recursion produces: `start`
 * a multiple of 2^ceil(log2(end-start)), or [0, n).
 *
 * @throws RangeError on start >= end, negatives, non-integers, or a range whose pieces are not aligned
 *   (such a range is not one the RFC's recursion ever hashes, and the nodes would be wrong).
 */
export function rangeNodes(start: number, end: number): NodeRef[] {
  if (!isCount(start) || !isCount(end) || start >= end) {
    throw new RangeError(`rangeNodes: invalid range [${start}, ${end})`);
  }
  const out: NodeRef[] = [];
  let at = start;
  let rest = end - start;
  while (rest > 0) {
    const size = floorPow2(rest);
    if (at % size !== 0) throw new RangeError(`rangeNodes: [${start}, ${end}) is not an aligned range`);
    out.push({ level: Math.log2(size), index: at / size });
    at += size;
    rest -= size;
  }
  return out;
}

/**
 * Right fold: [a] -> a; [a, b, ...rest] -> nodeHash(a, foldNodes([b, ...rest])). Given the hashes of
 * rangeNodes(start, end) in order, this is MTH(D[start:end]), because the RFC splits off the largest
 * power of two on the left at every step.
 *
 * @throws RangeError on an empty list.
 */
export function foldNodes(hashes: readonly Uint8Array[]): Buffer {
  const last = hashes[hashes.length - 1];
  if (last === undefined) throw new RangeError('foldNodes: no hashes');
  let acc: Buffer = Buffer.from(last);
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as a plan: one entry per proof element, in the RFC's order
 * (bottom up), each entry the NodeRefs (rangeNodes of that element's subrange) whose foldNodes is
 * the element.
 *
 * @throws RangeError unless 0 <= index < treeSize.
 */
export function inclusionPlan(index: number, treeSize: number): NodeRef[][] {
  if (!isCount(index) || !isCount(treeSize) || index >= treeSize) {
    throw new RangeError(`inclusionPlan: index ${index} is not in a tree of size ${treeSize}`);
  }
  // The recursion descends top down, but the RFC lists the siblings bottom up.
  const topDown: NodeRef[][] = [];
  let offset = 0;
  let m = index;
  let n = treeSize;
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      topDown.push(rangeNodes(offset + k, offset + n));
      n = k;
    } else {
      topDown.push(rangeNodes(offset, offset + k));
      offset += k;
      m -= k;
      n -= k;
    }
  }
  return topDown.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) as a plan, same shape as {@link inclusionPlan}. from == to gives [].
 *
 * @throws RangeError unless 0 < from <= to.
 */
export function consistencyPlan(from: number, to: number): NodeRef[][] {
  if (!isCount(from) || !isCount(to) || from === 0 || from > to) {
    throw new RangeError(`consistencyPlan: no proof from size ${from} to size ${to}`);
  }
  const topDown: NodeRef[][] = [];
  let offset = 0;
  let m = from;
  let n = to;
  let whole = true; // SUBPROOF's b: whether D[offset:offset+m] is the old tree the client already has
  while (m < n) {
    const k = splitPoint(n);
    if (m <= k) {
      topDown.push(rangeNodes(offset + k, offset + n));
      n = k;
    } else {
      topDown.push(rangeNodes(offset, offset + k));
      offset += k;
      m -= k;
      n -= k;
      whole = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b true the client knows that root already.
  if (!whole) topDown.push(rangeNodes(offset, offset + n));
  return topDown.reverse();
}

/** Every distinct NodeRef of some plans, in first-seen order, for one database query. */
export function planNodes(plans: readonly NodeRef[][][]): NodeRef[] {
  const seen = new Set<string>();
  const out: NodeRef[] = [];
  for (const plan of plans) {
    for (const entry of plan) {
      for (const ref of entry) {
        const key = `${ref.level}:${ref.index}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(ref);
      }
    }
  }
  return out;
}

/**
 * Builds the proof hashes from a plan and a node lookup. The lookup may return undefined (so a
 * `Map.get` wrapper fits); a missing or wrong-sized node throws, since a silently short proof would
 * just fail verification later with no hint why.
 *
 * @throws Error when the lookup has no 32-byte hash for a planned node.
 */
export function proofFromPlan(
  plan: readonly NodeRef[][],
  node: (ref: NodeRef) => Uint8Array | undefined,
): Buffer[] {
  return plan.map((entry) =>
    foldNodes(
      entry.map((ref) => {
        const h = node(ref);
        if (h === undefined || h.length !== HASH_SIZE) {
          throw new Error(`proofFromPlan: node level ${ref.level} index ${ref.index} is missing`);
        }
        return h;
      }),
    ),
  );
}

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;

const sameHash = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/**
 * The walk shared by both RFC 9162 verifications (§2.1.3.2, §2.1.4.2). It starts from the node
 * at `fn` of a tree whose last node is at `sn` and joins each proof hash on the side the position
 * says. With `withOld` (consistency only) it also folds in the left siblings alone, which rebuilds
 * the older tree's root. Null when the proof does not end exactly at the root.
 */
function climb(
  fn: number,
  sn: number,
  proof: readonly Uint8Array[],
  start: Uint8Array,
  withOld: boolean,
): { root: Uint8Array; oldRoot: Uint8Array | undefined } | null {
  let root = start;
  let oldRoot = withOld ? start : undefined;
  for (const p of proof) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      root = nodeHash(p, root);
      if (oldRoot !== undefined) oldRoot = nodeHash(p, oldRoot);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      root = nodeHash(root, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? { root, oldRoot } : null;
}

/**
 * RFC 9162 §2.1.3.2: verifies that `leaf` (the leaf *hash*, as the RFC's input "hash") is at
 * `index` in the tree of `treeSize` with root `root`, written as the RFC writes it (fn, sn, r).
 * Returns false, never throws, on any bad input.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isCount(index) || !isCount(treeSize) || index >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  const top = climb(index, treeSize - 1, proof, leaf, false);
  return top !== null && sameHash(top.root, root);
}

/**
 * RFC 9162 §2.1.4.2: verifies that the tree of size `from` with root `fromRoot` is a prefix of the
 * tree of size `to` with root `toRoot`. from == to: the proof must be empty and the roots equal.
 * from == 0: true only with an empty proof and `fromRoot` = EMPTY_ROOT (every tree extends the empty
 * one, but a size-0 head with any other root is not a real head). Returns false, never throws.
 */
export function verifyConsistency(
  from: number,
  to: number,
  proof: readonly Uint8Array[],
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
): boolean {
  if (!isCount(from) || !isCount(to) || from > to) return false;
  if (!isHash(fromRoot) || !isHash(toRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (from === to) return proof.length === 0 && sameHash(fromRoot, toRoot);
  if (from === 0) return proof.length === 0 && sameHash(fromRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // When `from` is a power of two the old root is a node of the new tree, so the RFC leaves it out.
  const path: readonly Uint8Array[] = floorPow2(from) === from ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const top = climb(fn, sn, path.slice(1), path[0]!, true);
  return top !== null && sameHash(top.oldRoot!, fromRoot) && sameHash(top.root, toRoot);
}

/** A perfect node completed by {@link TreeBuilder.append}, for the caller to store. */
export interface CompletedNode extends NodeRef {
  readonly hash: Buffer;
}

/**
 * An append-only builder over leaf hashes that keeps only the frontier (the hashes of
 * rangeNodes(0, size)), like a compact range. Memory is O(log size) however many leaves stream by.
 */
export class TreeBuilder {
  #size: number;
  // Indexed by level; a level holds a hash exactly when that bit of size is set.
  readonly #frontier: (Buffer | undefined)[] = [];

  /**
   * Starts empty, or resumes from stored state: `frontierHashes` are the hashes of
   * rangeNodes(0, size), largest first, as {@link frontier} returns them.
   *
   * @throws RangeError on a bad size, or a frontier that is not popcount(size) 32-byte hashes.
   */
  constructor(size = 0, frontierHashes: readonly Uint8Array[] = []) {
    if (!isCount(size)) throw new RangeError(`TreeBuilder: invalid size ${size}`);
    const refs = size === 0 ? [] : rangeNodes(0, size);
    if (frontierHashes.length !== refs.length || !frontierHashes.every(isHash)) {
      throw new RangeError(
        `TreeBuilder: size ${size} needs ${refs.length} frontier hashes of ${HASH_SIZE} bytes`,
      );
    }
    refs.forEach((ref, i) => {
      this.#frontier[ref.level] = Buffer.from(frontierHashes[i]!);
    });
    this.#size = size;
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash. Returns the perfect nodes this leaf completed, of level `fromLevel`
   * (at least 1) and up, bottom up (the leaf itself is level 0 and not returned): a caller that
   * stores only the upper levels does not pay for a record of each lower one.
   *
   * @throws RangeError if the leaf hash is not 32 bytes, or the tree is full.
   */
  append(leaf: Uint8Array, fromLevel = 1): CompletedNode[] {
    if (!isHash(leaf)) throw new RangeError(`TreeBuilder.append: a leaf hash is ${HASH_SIZE} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('TreeBuilder.append: tree is full');
    const completed: CompletedNode[] = [];
    const newSize = this.#size + 1;
    let h: Buffer | undefined;
    let level = 0;
    // Each set low bit of the old size is a left sibling now completed by h: carry upwards.
    for (let s = this.#size; odd(s); s = half(s)) {
      h = nodeHash(this.#frontier[level]!, h ?? leaf);
      this.#frontier[level] = undefined;
      level++;
      if (level >= fromLevel) completed.push({ level, index: newSize / 2 ** level - 1, hash: h });
    }
    // The leaf itself is kept only when it completed nothing, so only then is it copied.
    this.#frontier[level] = h ?? Buffer.from(leaf);
    this.#size = newSize;
    return completed;
  }

  /** MTH of every leaf so far; EMPTY_ROOT for size 0. */
  root(): Buffer {
    return this.#size === 0 ? Buffer.from(EMPTY_ROOT) : foldNodes(this.#largestFirst());
  }

  /** Copies of the frontier hashes (rangeNodes(0, size) order, largest first), for resuming. */
  frontier(): Buffer[] {
    return this.#largestFirst().map((h) => Buffer.from(h));
  }

  /** The frontier's own hashes, largest subtree first: rangeNodes(0, size) order. */
  #largestFirst(): Buffer[] {
    const out: Buffer[] = [];
    for (let level = this.#frontier.length - 1; level >= 0; level--) {
      const h = this.#frontier[level];
      if (h !== undefined) out.push(h);
    }
    return out;
  }
}
