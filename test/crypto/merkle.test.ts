import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  consistencyPlan,
  EMPTY_ROOT,
  foldNodes,
  HASH_SIZE,
  inclusionPlan,
  leafHash,
  type NodeRef,
  nodeHash,
  planNodes,
  proofFromPlan,
  rangeNodes,
  TreeBuilder,
  verifyConsistency,
  verifyInclusion,
} from '../../src/crypto/merkle.js';

/*
 * An independent reference, written from RFC 9162 §2.1 and not from the module: it works on arrays
 * of leaf data and hashes with node:crypto directly.
 */
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
/** k: the largest power of two smaller than n (n > 1). */
const largestPow2Below = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** §2.1.1 MTH(D[n]). */
function MTH(d: readonly Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
  const k = largestPow2Below(d.length);
  return sha(Uint8Array.of(1), MTH(d.slice(0, k)), MTH(d.slice(k)));
}
/** §2.1.3.1 PATH(m, D[n]). */
function PATH(m: number, d: readonly Uint8Array[]): Buffer[] {
  if (d.length === 1) return [];
  const k = largestPow2Below(d.length);
  if (m < k) return [...PATH(m, d.slice(0, k)), MTH(d.slice(k))];
  return [...PATH(m - k, d.slice(k)), MTH(d.slice(0, k))];
}
/** §2.1.4.1 SUBPROOF(m, D[n], b). */
function SUBPROOF(m: number, d: readonly Uint8Array[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [MTH(d)];
  const k = largestPow2Below(n);
  if (m <= k) return [...SUBPROOF(m, d.slice(0, k), b), MTH(d.slice(k))];
  return [...SUBPROOF(m - k, d.slice(k), false), MTH(d.slice(0, k))];
}
/** §2.1.4.1 PROOF(m, D[n]). */
const PROOF = (m: number, d: readonly Uint8Array[]) => SUBPROOF(m, d, true);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');
const data = Array.from({ length: 1000 }, (_, i) => Buffer.from(`access-log-entry-${i}`));
const leafHashOf = (i: number) => sha(Uint8Array.of(0), data[i]!);

/** The stored-node lookup, built naively: node(level, index) = reference MTH of its leaf range. */
const nodeCache = new Map<string, Buffer>();
const node = (ref: NodeRef) => {
  const key = `${ref.level}:${ref.index}`;
  let h = nodeCache.get(key);
  if (h === undefined) {
    const size = 2 ** ref.level;
    h = MTH(data.slice(ref.index * size, (ref.index + 1) * size));
    nodeCache.set(key, h);
  }
  return h;
};
const rootCache = new Map<number, Buffer>();
const rootOf = (n: number) => {
  let r = rootCache.get(n);
  if (r === undefined) {
    r = MTH(data.slice(0, n));
    rootCache.set(n, r);
  }
  return r;
};
const flip = (proof: Buffer[], i: number) =>
  proof.map((p, j) => {
    if (j !== i) return p;
    const c = Buffer.from(p);
    c[7] = c[7]! ^ 0x40;
    return c;
  });

const SIZES = [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 127, 1000];
const indexesFor = (n: number) =>
  n <= 40 ? Array.from({ length: n }, (_, i) => i) : [0, 1, 2, n >> 1, n - 3, n - 2, n - 1, 31, 32, 33];

describe('RFC 6962 / 9162 test vectors', () => {
  const entries = [
    '',
    '00',
    '10',
    '2021',
    '3031',
    '40414243',
    '5051525354555657',
    '606162636465666768696a6b6c6d6e6f',
  ].map(unhex);
  const roots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];

  it('empty root is SHA-256 of the empty string', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(MTH([]))).toBe(hex(EMPTY_ROOT));
    expect(HASH_SIZE).toBe(32);
    expect(hex(new TreeBuilder().root())).toBe(hex(EMPTY_ROOT));
  });

  it('the 8-leaf reference tree has the published roots, in the reference and the builder', () => {
    const b = new TreeBuilder();
    entries.forEach((e, i) => {
      b.append(leafHash(e));
      expect(hex(b.root())).toBe(roots[i]);
      expect(hex(MTH(entries.slice(0, i + 1)))).toBe(roots[i]);
    });
  });

  it('matches the published inclusion proofs and consistency proof', () => {
    const lookup = (ref: NodeRef) => {
      const size = 2 ** ref.level;
      return MTH(entries.slice(ref.index * size, (ref.index + 1) * size));
    };
    const root8 = unhex(roots[7]!);
    const p0 = proofFromPlan(inclusionPlan(0, 8), lookup).map(hex);
    expect(p0).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(verifyInclusion(leafHash(entries[0]!), 0, 8, p0.map(unhex), root8)).toBe(true);
    const p5 = proofFromPlan(inclusionPlan(5, 8), lookup).map(hex);
    expect(p5).toEqual([
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    expect(verifyInclusion(leafHash(entries[5]!), 5, 8, p5.map(unhex), root8)).toBe(true);
    const c25 = proofFromPlan(consistencyPlan(2, 5), lookup).map(hex);
    expect(c25).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ]);
    expect(verifyConsistency(2, 5, c25.map(unhex), unhex(roots[1]!), unhex(roots[4]!))).toBe(true);
  });
});

describe('hash primitives', () => {
  it('leafHash and nodeHash use the 0x00 / 0x01 prefixes', () => {
    expect(hex(leafHash(data[0]!))).toBe(hex(sha(Uint8Array.of(0), data[0]!)));
    const [a, b] = [leafHashOf(0), leafHashOf(1)];
    expect(hex(nodeHash(a, b))).toBe(hex(sha(Uint8Array.of(1), a, b)));
  });

  it('nodeHash answers a hash of its own each call, and hashes inputs of any length', () => {
    const [a, b, c] = [leafHashOf(0), leafHashOf(1), leafHashOf(2)];
    const ab = nodeHash(a, b);
    const abHex = hex(ab);
    const bc = nodeHash(b, c);
    expect(hex(ab)).toBe(abHex);
    expect(hex(bc)).toBe(hex(sha(Uint8Array.of(1), b, c)));
    const [short, long] = [Uint8Array.of(7, 8), new Uint8Array(40).fill(9)];
    expect(hex(nodeHash(short, long))).toBe(hex(sha(Uint8Array.of(1), short, long)));
    expect(hex(nodeHash(a, b))).toBe(abHex);
  });

  it('foldNodes is a right fold and throws on empty', () => {
    const [a, b, c] = [leafHashOf(0), leafHashOf(1), leafHashOf(2)];
    expect(hex(foldNodes([a]))).toBe(hex(a));
    expect(hex(foldNodes([a, b, c]))).toBe(hex(nodeHash(a, nodeHash(b, c))));
    expect(() => foldNodes([])).toThrow(RangeError);
  });
});

describe('rangeNodes and planNodes', () => {
  it('decomposes ranges largest first, and folds to the reference MTH', () => {
    expect(rangeNodes(0, 1)).toEqual([{ level: 0, index: 0 }]);
    expect(rangeNodes(0, 8)).toEqual([{ level: 3, index: 0 }]);
    expect(rangeNodes(0, 7)).toEqual([
      { level: 2, index: 0 },
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    expect(rangeNodes(8, 13)).toEqual([
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    for (const n of SIZES) {
      expect(hex(foldNodes(rangeNodes(0, n).map(node)))).toBe(hex(rootOf(n)));
    }
    expect(hex(foldNodes(rangeNodes(32, 45).map(node)))).toBe(hex(MTH(data.slice(32, 45))));
  });

  it('throws RangeError on empty, reversed, negative or unaligned ranges', () => {
    expect(() => rangeNodes(3, 3)).toThrow(RangeError);
    expect(() => rangeNodes(4, 3)).toThrow(RangeError);
    expect(() => rangeNodes(-1, 3)).toThrow(RangeError);
    expect(() => rangeNodes(0, -1)).toThrow(RangeError);
    expect(() => rangeNodes(0.5, 2)).toThrow(RangeError);
    expect(() => rangeNodes(1, 3)).toThrow(RangeError);
  });

  it('planNodes lists each node once', () => {
    const plans = [inclusionPlan(3, 13), inclusionPlan(4, 13), consistencyPlan(5, 13)];
    const all = planNodes(plans);
    const keys = all.map((r) => `${r.level}:${r.index}`);
    expect(new Set(keys).size).toBe(keys.length);
    const expected = new Set(plans.flat(2).map((r) => `${r.level}:${r.index}`));
    expect(new Set(keys)).toEqual(expected);
    expect(planNodes([])).toEqual([]);
  });
});

describe('inclusion proofs against the RFC reference', () => {
  it('equal PATH byte for byte, verify, and reject every tampering', () => {
    for (const n of SIZES) {
      const d = data.slice(0, n);
      const root = rootOf(n);
      for (const m of indexesFor(n)) {
        const proof = proofFromPlan(inclusionPlan(m, n), node);
        expect(proof.map(hex), `PATH(${m}, D[${n}])`).toEqual(PATH(m, d).map(hex));
        const leaf = leafHashOf(m);
        expect(verifyInclusion(leaf, m, n, proof, root), `verify ${m}/${n}`).toBe(true);
        for (let i = 0; i < proof.length; i++) {
          expect(verifyInclusion(leaf, m, n, flip(proof, i), root)).toBe(false);
        }
        if (m + 1 < n) expect(verifyInclusion(leaf, m + 1, n, proof, root)).toBe(false);
        if (m > 0) expect(verifyInclusion(leaf, m - 1, n, proof, root)).toBe(false);
        // RFC 9162's algorithm binds the size only through the proof's shape (the signed tree head
        // binds it for real): e.g. PATH(0, D[6]) also verifies as size 7. So a wrong size must fail
        // whenever it implies a different proof length, which the reference tells us.
        for (const wrong of n <= 40 ? [n - 1, n + 1, 2 * n] : n < 1000 ? [n - 1, n + 1] : []) {
          if (wrong <= m || PATH(m, data.slice(0, wrong)).length === proof.length) continue;
          expect(verifyInclusion(leaf, m, wrong, proof, root), `size ${wrong} for ${m}/${n}`).toBe(false);
        }
        expect(verifyInclusion(leafHashOf((m + 1) % 1000), m, n, proof, root)).toBe(false);
        if (proof.length > 0) expect(verifyInclusion(leaf, m, n, proof.slice(0, -1), root)).toBe(false);
        expect(verifyInclusion(leaf, m, n, [...proof, leaf], root)).toBe(false);
        expect(verifyInclusion(leaf, m, n, proof, rootOf(n === 1 ? 2 : n - 1))).toBe(false);
      }
    }
  });

  it('returns false, never throws, on bad input', () => {
    const root = rootOf(5);
    const leaf = leafHashOf(2);
    const proof = proofFromPlan(inclusionPlan(2, 5), node);
    expect(verifyInclusion(leaf, 5, 5, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, -1, 5, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 2, 0, [], EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(leaf, 2.5, 5, proof, root)).toBe(false);
    expect(verifyInclusion(leaf.subarray(1), 2, 5, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 2, 5, proof, root.subarray(1))).toBe(false);
    expect(verifyInclusion(leaf, 2, 5, [proof[0]!.subarray(2), ...proof.slice(1)], root)).toBe(false);
    expect(verifyInclusion(leaf, 2, Number.POSITIVE_INFINITY, proof, root)).toBe(false);
    expect(verifyInclusion(leafHashOf(0), 0, 1, [], rootOf(1))).toBe(true);
  });

  it('plans throw RangeError outside 0 <= index < treeSize, and missing nodes throw', () => {
    expect(() => inclusionPlan(5, 5)).toThrow(RangeError);
    expect(() => inclusionPlan(-1, 5)).toThrow(RangeError);
    expect(() => inclusionPlan(0, 0)).toThrow(RangeError);
    expect(inclusionPlan(0, 1)).toEqual([]);
    expect(() => proofFromPlan(inclusionPlan(2, 5), () => undefined)).toThrow(/missing/);
  });
});

describe('consistency proofs against the RFC reference', () => {
  it('equal PROOF byte for byte, verify, and reject every tampering', () => {
    for (let n = 1; n <= 40; n++) {
      const d = data.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const proof = proofFromPlan(consistencyPlan(m, n), node);
        expect(proof.map(hex), `PROOF(${m}, D[${n}])`).toEqual(PROOF(m, d).map(hex));
        const [r1, r2] = [rootOf(m), rootOf(n)];
        expect(verifyConsistency(m, n, proof, r1, r2), `verify ${m}->${n}`).toBe(true);
        for (let i = 0; i < proof.length; i++) {
          expect(verifyConsistency(m, n, flip(proof, i), r1, r2)).toBe(false);
        }
        if (m < n) {
          expect(verifyConsistency(m, n, proof, rootOf(m + 1), r2)).toBe(false);
          expect(verifyConsistency(m, n, proof, r1, rootOf(n - 1))).toBe(false);
          expect(verifyConsistency(n, m, proof, r2, r1)).toBe(false);
          expect(verifyConsistency(m, n, proof.slice(0, -1), r1, r2)).toBe(false);
          expect(verifyConsistency(m, n, [...proof, r1], r1, r2)).toBe(false);
          expect(verifyConsistency(m, n, [], r1, r2)).toBe(false);
          if (m > 1) expect(verifyConsistency(m - 1, n, proof, rootOf(m - 1), r2)).toBe(false);
          expect(verifyConsistency(m, n + 1, proof, r1, rootOf(n + 1))).toBe(false);
        }
      }
    }
  });

  it('handles from == to and from == 0', () => {
    const r = rootOf(7);
    expect(consistencyPlan(7, 7)).toEqual([]);
    expect(verifyConsistency(7, 7, [], r, r)).toBe(true);
    expect(verifyConsistency(7, 7, [], r, rootOf(6))).toBe(false);
    expect(verifyConsistency(7, 7, [r], r, r)).toBe(false);
    expect(verifyConsistency(0, 7, [], EMPTY_ROOT, r)).toBe(true);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 7, [r], EMPTY_ROOT, r)).toBe(false);
    expect(verifyConsistency(0, 7, [], r, r)).toBe(false);
  });

  it('returns false, never throws, on bad input; plans throw RangeError', () => {
    const proof = proofFromPlan(consistencyPlan(3, 7), node);
    const [r1, r2] = [rootOf(3), rootOf(7)];
    expect(verifyConsistency(-1, 7, proof, r1, r2)).toBe(false);
    expect(verifyConsistency(3, 7.5, proof, r1, r2)).toBe(false);
    expect(verifyConsistency(3, 7, proof, r1.subarray(1), r2)).toBe(false);
    expect(verifyConsistency(3, 7, proof, r1, r2.subarray(1))).toBe(false);
    expect(verifyConsistency(3, 7, [Buffer.alloc(3), ...proof.slice(1)], r1, r2)).toBe(false);
    expect(verifyConsistency(3, 1e15, proof, r1, r2)).toBe(false);
    expect(() => consistencyPlan(0, 5)).toThrow(RangeError);
    expect(() => consistencyPlan(6, 5)).toThrow(RangeError);
    expect(() => consistencyPlan(-1, 5)).toThrow(RangeError);
  });
});

describe('TreeBuilder', () => {
  it('has the reference root after every append, and returns the nodes it completes', () => {
    const b = new TreeBuilder();
    for (let i = 0; i < 130; i++) {
      const done = b.append(leafHashOf(i));
      expect(b.size).toBe(i + 1);
      expect(hex(b.root()), `root of ${i + 1}`).toBe(hex(rootOf(i + 1)));
      let expectedLevels = 0;
      for (let s = i + 1; s % 2 === 0; s /= 2) expectedLevels++;
      expect(done.map((c) => c.level)).toEqual(Array.from({ length: expectedLevels }, (_, j) => j + 1));
      for (const c of done) {
        expect((c.index + 1) * 2 ** c.level).toBe(i + 1);
        expect(hex(c.hash)).toBe(hex(node(c)));
      }
      expect(b.frontier().map(hex)).toEqual(rangeNodes(0, i + 1).map((r) => hex(node(r))));
    }
  });

  it('resumes from (size, frontier) with the same roots and nodes', () => {
    const whole = new TreeBuilder();
    for (let i = 0; i < 23; i++) whole.append(leafHashOf(i));
    const resumed = new TreeBuilder(whole.size, whole.frontier());
    expect(hex(resumed.root())).toBe(hex(whole.root()));
    for (let i = 23; i < 70; i++) {
      const a = whole.append(leafHashOf(i));
      const c = resumed.append(leafHashOf(i));
      expect(c.map((x) => [x.level, x.index, hex(x.hash)])).toEqual(
        a.map((x) => [x.level, x.index, hex(x.hash)]),
      );
      expect(hex(resumed.root())).toBe(hex(rootOf(i + 1)));
    }
  });

  it('append(leaf, fromLevel) returns only the nodes of that level and up, and builds the same tree', () => {
    const all = new TreeBuilder();
    const upper = new TreeBuilder();
    for (let i = 0; i < 70; i++) {
      const expected = all.append(leafHashOf(i)).filter((c) => c.level >= 3);
      const got = upper.append(leafHashOf(i), 3);
      expect(got.map((x) => [x.level, x.index, hex(x.hash)])).toEqual(
        expected.map((x) => [x.level, x.index, hex(x.hash)]),
      );
      expect(hex(upper.root())).toBe(hex(rootOf(i + 1)));
    }
  });

  it('keeps its own copy of a leaf: the caller may reuse the buffer', () => {
    const b = new TreeBuilder();
    const reused = Buffer.from(leafHashOf(0));
    b.append(reused);
    reused.fill(0);
    expect(hex(b.root())).toBe(hex(rootOf(1)));
    leafHashOf(1).copy(reused);
    b.append(reused);
    leafHashOf(2).copy(reused);
    b.append(reused);
    reused.fill(0);
    expect(hex(b.root())).toBe(hex(rootOf(3)));
  });

  it('frontier() returns copies', () => {
    const b = new TreeBuilder();
    b.append(leafHashOf(0));
    b.frontier()[0]!.fill(0);
    expect(hex(b.root())).toBe(hex(rootOf(1)));
  });

  it('rejects a bad frontier, size or leaf', () => {
    const f = rangeNodes(0, 23).map(node);
    expect(() => new TreeBuilder(23, f.slice(1))).toThrow(RangeError);
    expect(() => new TreeBuilder(23, [...f, f[0]!])).toThrow(RangeError);
    expect(() => new TreeBuilder(0, f)).toThrow(RangeError);
    expect(() => new TreeBuilder(23, [f[0]!.subarray(1), ...f.slice(1)])).toThrow(RangeError);
    expect(() => new TreeBuilder(-1, [])).toThrow(RangeError);
    expect(() => new TreeBuilder().append(Buffer.alloc(31))).toThrow(RangeError);
    expect(hex(new TreeBuilder(23, f).root())).toBe(hex(rootOf(23)));
  });
});
