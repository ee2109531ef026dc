/**
 * A port of numpy 1.24.2's default `np.argsort` (kind='quicksort') for 1-D float arrays:
 * `aquicksort_` / `aheapsort_` of `numpy/core/src/npysort/{quicksort,heapsort}.cpp`.
 *
 * Why: the official DCASE 2019 lwlrap ranks classes with `np.argsort(scores)[::-1]`, and on
 * tied scores the result depends on numpy's (unstable) introsort. Copying the algorithm step by
 * step reproduces numpy's order of equal keys, hence the reference lwlrap to the last bit
 * (verified against `tests/fixtures/golden/lwlrap/case_*_reference_ranking.i32`).
 *
 * The algorithm: median-of-3 quicksort while a partition has more than 16 elements (the
 * larger side is pushed on a stack, the smaller one processed next), insertion sort (stable)
 * for partitions of at most 16 elements, heapsort for a partition popped once the depth budget
 * `2 * floor(log2(n))` is spent. Comparisons use numpy's float `less`: NaN sorts last.
 * From numpy 1.25 on, x86 AVX-512 machines dispatch to x86-simd-sort instead, whose tie order
 * differs; this port follows 1.24.
 */

/** numpy's `Tag::less` for floats: `a < b`, with NaN greater than every number. */
function less(a: number, b: number): boolean {
  return a < b || (b !== b && a === a);
}

/** `npy_get_msb`: floor(log2(n)) for n >= 1. */
function msb(n: number): number {
  let depth = 0;
  while ((n >>>= 1) > 0) depth++;
  return depth;
}

/**
 * numpy `aheapsort_` on `tosort[lo .. lo+n-1]` (indices into `v`, offset by `base`).
 * Heap indices are 1-based as in numpy (`a = tosort - 1`).
 */
function aheapsort(v: ArrayLike<number>, base: number, tosort: Int32Array, lo: number, n: number): void {
  const off = lo - 1; // a[k] === tosort[off + k]
  let i: number;
  let j: number;
  let tmp: number;
  for (let l = n >> 1; l > 0; --l) {
    tmp = tosort[off + l];
    for (i = l, j = l << 1; j <= n; ) {
      if (j < n && less(v[base + tosort[off + j]], v[base + tosort[off + j + 1]])) j += 1;
      if (less(v[base + tmp], v[base + tosort[off + j]])) {
        tosort[off + i] = tosort[off + j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    tosort[off + i] = tmp;
  }
  for (; n > 1; ) {
    tmp = tosort[off + n];
    tosort[off + n] = tosort[off + 1];
    n -= 1;
    for (i = 1, j = 2; j <= n; ) {
      if (j < n && less(v[base + tosort[off + j]], v[base + tosort[off + j + 1]])) j++;
      if (less(v[base + tmp], v[base + tosort[off + j]])) {
        tosort[off + i] = tosort[off + j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    tosort[off + i] = tmp;
  }
}

const SMALL_QUICKSORT = 15;

/**
 * Sorts the indices in `tosort[0 .. num-1]` so that `v[base + tosort[k]]` ascends, exactly as
 * numpy 1.24.2 `aquicksort_` does (same tie order). `tosort` must hold the initial index order
 * (for `np.argsort`: 0, 1, ..., num-1; see {@link npArgsort}).
 *
 * @param v values; element i of the sorted row is `v[base + i]` (a row of a flat matrix).
 * @param tosort index permutation, sorted in place; length >= num.
 */
export function npArgsortInto(v: ArrayLike<number>, base: number, tosort: Int32Array, num: number): void {
  if (num < 2) return;
  let pl = 0;
  let pr = num - 1;
  // The stack holds (pl, pr) pairs and their depth, as numpy's `stack` and `depth` arrays.
  const stack: number[] = [];
  const depths: number[] = [];
  let cdepth = msb(num) * 2;
  let pm: number, pi: number, pj: number, pk: number, vi: number, t: number;
  let vp: number;
  for (;;) {
    if (cdepth < 0) {
      aheapsort(v, base, tosort, pl, pr - pl + 1);
    } else {
      while (pr - pl > SMALL_QUICKSORT) {
        pm = pl + ((pr - pl) >> 1);
        if (less(v[base + tosort[pm]], v[base + tosort[pl]])) { t = tosort[pm]; tosort[pm] = tosort[pl]; tosort[pl] = t; }
        if (less(v[base + tosort[pr]], v[base + tosort[pm]])) { t = tosort[pr]; tosort[pr] = tosort[pm]; tosort[pm] = t; }
        if (less(v[base + tosort[pm]], v[base + tosort[pl]])) { t = tosort[pm]; tosort[pm] = tosort[pl]; tosort[pl] = t; }
        vp = v[base + tosort[pm]];
        pi = pl;
        pj = pr - 1;
        t = tosort[pm]; tosort[pm] = tosort[pj]; tosort[pj] = t;
        for (;;) {
          do { ++pi; } while (less(v[base + tosort[pi]], vp));
          do { --pj; } while (less(vp, v[base + tosort[pj]]));
          if (pi >= pj) break;
          t = tosort[pi]; tosort[pi] = tosort[pj]; tosort[pj] = t;
        }
        pk = pr - 1;
        t = tosort[pi]; tosort[pi] = tosort[pk]; tosort[pk] = t;
        // Push the larger partition, continue with the smaller one.
        if (pi - pl < pr - pi) {
          stack.push(pi + 1, pr);
          pr = pi - 1;
        } else {
          stack.push(pl, pi - 1);
          pl = pi + 1;
        }
        depths.push(--cdepth);
      }
      // Insertion sort of the small partition (stable).
      for (pi = pl + 1; pi <= pr; ++pi) {
        vi = tosort[pi];
        vp = v[base + vi];
        pj = pi;
        pk = pi - 1;
        while (pj > pl && less(vp, v[base + tosort[pk]])) tosort[pj--] = tosort[pk--];
        tosort[pj] = vi;
      }
    }
    if (stack.length === 0) break;
    pr = stack.pop()!;
    pl = stack.pop()!;
    cdepth = depths.pop()!;
  }
}

/**
 * `np.argsort(values)` of numpy 1.24.2 (default kind): indices that sort `values` ascending,
 * with numpy's tie order. Reverse it for the descending ranking `np.argsort(x)[::-1]`.
 *
 * @param values 1-D scores.
 * @returns Int32Array `[values.length]` of indices.
 */
export function npArgsort(values: ArrayLike<number>): Int32Array {
  const order = new Int32Array(values.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  npArgsortInto(values, 0, order, values.length);
  return order;
}
