//! Sorting along one dim of a contiguous tensor viewed as `[outer, n, inner]`: each row is
//! sorted as (key, index) pairs, where the key maps the value to an unsigned integer in a
//! total order (NaN largest, -0.0 equal to 0.0) and the index breaks ties. That order makes
//! every sort stable (PyTorch's `stable=True`, a valid answer for `stable=False` too) and
//! lets an integer sort do the work: a stable LSD radix sort of the keys (equal keys keep
//! index order), a comparison sort for short rows. Rows run in parallel.

use super::{run_parts, SendPtr};
use crate::alloc::buffer;
use crate::error::{dtype_err, value_err, Result};
use crate::tensor::{Element, IntoStorageVec, Tensor};
use crate::with_numeric_dtype;

/// A value's place in the sort order as an unsigned integer.
trait SortKey: Element + IntoStorageVec {
    fn key(self) -> u64;
    /// The value whose key this is, where only one value has it (not for zero or NaN).
    fn from_sort_key(_key: u64) -> Option<Self> {
        None
    }
}

impl SortKey for f32 {
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u32::MAX as u64;
        }
        let b = (self + 0.0).to_bits(); // -0.0 + 0.0 is +0.0
        // Negative values flip every bit, the others only the sign; without a branch, which
        // random signs would mispredict half the time.
        (b ^ (((b as i32) >> 31) as u32 | 0x8000_0000)) as u64
    }

    #[inline(always)]
    fn from_sort_key(key: u64) -> Option<f32> {
        let k = key as u32;
        if k == u32::MAX || k == 0x8000_0000 {
            return None;
        }
        Some(f32::from_bits(k ^ (!((k as i32) >> 31) as u32 | 0x8000_0000)))
    }
}

impl SortKey for f64 {
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        let b = (self + 0.0).to_bits();
        b ^ (((b as i64) >> 63) as u64 | (1 << 63))
    }
}

impl SortKey for i64 {
    #[inline(always)]
    fn key(self) -> u64 {
        (self as u64) ^ (1 << 63)
    }
}

/// `(values, indices)` of `a` sorted along `dim` (ascending, or descending with ties still
/// in their original order), both contiguous in `a`'s shape.
pub fn sort(a: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    with_numeric_dtype!(a.dtype(), T => sort_typed::<T>(a, dim, descending),
        bool => Err(dtype_err!("sort: convert bool tensors with .long() first")))
}

/// Rows at least this long are radix sorted; shorter ones compare-sorted.
const RADIX_MIN: usize = 64;

/// Turns a radix pass's digit counts into each digit's first slot; false (counts untouched)
/// when one digit holds all `n` keys, so the pass would move nothing and is skipped.
fn bucket_starts(count: &mut [u32], n: usize) -> bool {
    if count.iter().any(|&c| c as usize == n) {
        return false;
    }
    let mut start = 0;
    for c in count.iter_mut() {
        let len = *c;
        *c = start;
        start += len;
    }
    true
}

/// Stable LSD radix sort of `keys` on their low `bytes` bytes, `order` carried along. The
/// order starts as 0..n, so equal keys stay in index order: the (key, index) sort. A pass
/// whose byte is the same everywhere is skipped.
fn radix_sort(keys: &mut Vec<u64>, order: &mut Vec<u32>, bytes: usize) {
    let n = keys.len();
    let (mut k2, mut o2) = (vec![0u64; n], vec![0u32; n]);
    for pass in 0..bytes {
        let shift = 8 * pass;
        let mut count = [0u32; 256];
        for &k in keys.iter() {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        if !bucket_starts(&mut count, n) {
            continue;
        }
        for (&k, &j) in keys.iter().zip(order.iter()) {
            let d = ((k >> shift) & 0xff) as usize;
            k2[count[d] as usize] = k;
            o2[count[d] as usize] = j;
            count[d] += 1;
        }
        std::mem::swap(keys, &mut k2);
        std::mem::swap(order, &mut o2);
    }
}

fn sort_typed<T: SortKey>(a: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    let a = if a.is_contiguous() { a.clone() } else { super::copy::cast(a, a.dtype())? };
    let shape = a.shape().to_vec();
    let total = a.numel();
    let xs = &a.cpu_storage("sort")?.as_slice::<T>()[a.layout().offset()..][..total];
    let (n, inner) = if shape.is_empty() { (1, 1) } else { (shape[dim], shape[dim + 1..].iter().product()) };
    if n > u32::MAX as usize {
        return Err(value_err!("sort: rows of {n} elements are longer than the 2^32 this kernel indexes"));
    }
    // Filled in place, not zeroed first: every row writes all of its n positions in both, and
    // the lengths are set only once all rows are done (an error before leaves them empty).
    let mut ys: Vec<T> = buffer::with_capacity(total, &shape, "sort")?;
    let mut idx: Vec<i64> = buffer::with_capacity(total, &shape, "sort")?;
    let rows = if n == 0 { 0 } else { total / n };
    let (yp, ip) = (SendPtr(ys.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
    // float32 keys use 4 bytes (4 radix passes), the others 8.
    let key_bytes = if T::DTYPE == crate::tensor::DType::F32 { 4 } else { 8 };
    let flip = if descending { u64::MAX >> (64 - 8 * key_bytes) } else { 0 };
    // Row r's element j is at base(r) + j * inner, in the input and in both outputs.
    let base = move |r: usize| (r / inner) * n * inner + r % inner;
    let put = move |at: usize, j: usize, value: T| {
        // SAFETY: the row of position `at` alone writes it, once.
        unsafe {
            *yp.get().add(at) = value;
            *ip.get().add(at) = j as i64;
        }
    };
    // A sorted (key << 32 | index) word written out at sorted position `pos` of the row at
    // `b` as its value and index. The key gives the value back, except for 0 (-0.0 and 0.0
    // share a key) and NaN (payloads), which are read from the input: no random gather
    // otherwise.
    let put_word = move |b: usize, pos: usize, w: u64| {
        let j = (w & 0xffff_ffff) as usize;
        put(b + pos * inner, j, T::from_sort_key((w >> 32) ^ flip).unwrap_or_else(|| xs[b + j * inner]));
    };
    let word = move |b: usize, j: usize| ((xs[b + j * inner].key() ^ flip) << 32) | j as u64;
    let finish = |mut ys: Vec<T>, mut idx: Vec<i64>| {
        // SAFETY: the rows wrote all `total` positions of both (see above).
        unsafe {
            ys.set_len(total);
            idx.set_len(total);
        }
        Ok((Tensor::from_vec(ys, &shape)?, Tensor::from_vec(idx, &shape)?))
    };
    if key_bytes == 4 && n >= LONG_ROW {
        for r in 0..rows {
            let b = base(r);
            sort_long_row(n, &shape, |j| word(b, j), |pos, w| put_word(b, pos, w))?;
        }
        return finish(ys, idx);
    }
    let row = |r: usize| {
        let b = base(r);
        if key_bytes == 4 {
            // (key << 32 | index) in one word: sorting the words sorts by key, then index.
            let mut words: Vec<u64> = (0..n).map(|j| word(b, j)).collect();
            if n >= RADIX_MIN {
                let mut scratch: Vec<u64> = Vec::with_capacity(n);
                radix_sort_words::<4>(&mut words, scratch.as_mut_ptr(), |pos, w| put_word(b, pos, w));
            } else {
                words.sort_unstable();
                for (pos, &w) in words.iter().enumerate() {
                    put_word(b, pos, w);
                }
            }
            return;
        }
        let mut keys: Vec<u64> = (0..n).map(|j| xs[b + j * inner].key() ^ flip).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        if n >= RADIX_MIN {
            radix_sort(&mut keys, &mut order, key_bytes);
        } else {
            let mut pairs: Vec<(u64, u32)> = keys.into_iter().zip(order.iter().copied()).collect();
            pairs.sort_unstable();
            order = pairs.into_iter().map(|(_, j)| j).collect();
        }
        for (pos, &j) in order.iter().enumerate() {
            put(b + pos * inner, j as usize, xs[b + j as usize * inner]);
        }
    };
    if super::parallel(total) && rows > 1 {
        run_parts(rows, row);
    } else {
        (0..rows).for_each(row);
    }
    finish(ys, idx)
}

/// Rows of float32 at least this long are sorted by `sort_long_row`, one row over all threads.
const LONG_ROW: usize = 1 << 16;
/// The key bits of the spreading pass: 2048 buckets, whose write heads stay in cache.
const TOP_BITS: u32 = 11;

/// Sorts the `n` words `word(0..n)` of one row, `(key << 32 | index)` with 32-bit keys, and
/// hands each to `put(position, word)`. An LSD radix sort would stream the whole row through
/// memory once per byte; here one stable pass spreads the words into buckets by the key's top
/// 11 bits (the row's chunks counted and spread in parallel, each chunk into its own run of
/// every bucket, so equal keys keep index order), and then each bucket, now small enough to
/// stay in cache, is radix sorted on the remaining 21 bits and written out, buckets in
/// parallel, largest first.
fn sort_long_row(n: usize, shape: &[usize], word: impl Fn(usize) -> u64 + Sync, put: impl Fn(usize, u64) + Sync) -> Result<()> {
    const BUCKETS: usize = 1 << TOP_BITS;
    let shift = 64 - TOP_BITS;
    let chunks = super::threads::num_threads().clamp(1, n);
    let chunk = n.div_ceil(chunks);
    let range = |c: usize| c * chunk..((c + 1) * chunk).min(n);
    let mut counts: Vec<u32> = buffer::zeroed(chunks * BUCKETS, shape, "sort")?;
    let counts_at = SendPtr(counts.as_mut_ptr());
    run_parts(chunks, |c| {
        // SAFETY: chunk c alone writes its BUCKETS counts.
        let mine = unsafe { std::slice::from_raw_parts_mut(counts_at.get().add(c * BUCKETS), BUCKETS) };
        // Two tables, for even and odd j: neighbours often share a bucket, and one table would
        // make each increment wait for the previous one's store.
        let mut odd = [0u32; BUCKETS];
        let r = range(c);
        let mut j = r.start;
        while j + 1 < r.end {
            mine[(word(j) >> shift) as usize] += 1;
            odd[(word(j + 1) >> shift) as usize] += 1;
            j += 2;
        }
        if j < r.end {
            mine[(word(j) >> shift) as usize] += 1;
        }
        for (m, o) in mine.iter_mut().zip(odd) {
            *m += o;
        }
    });
    // Chunk c's first slot in bucket d: every word of a lower bucket, then the words of bucket
    // d in the chunks before c.
    let mut starts: Vec<usize> = buffer::zeroed(chunks * BUCKETS, shape, "sort")?;
    let mut bounds: Vec<usize> = Vec::with_capacity(BUCKETS + 1);
    let mut next = 0usize;
    for d in 0..BUCKETS {
        bounds.push(next);
        for c in 0..chunks {
            starts[c * BUCKETS + d] = next;
            next += counts[c * BUCKETS + d] as usize;
        }
    }
    bounds.push(n);
    let spread = |out: &mut [std::mem::MaybeUninit<u64>]| {
        let (out_at, starts) = (SendPtr(out.as_mut_ptr()), &starts);
        run_parts(chunks, |c| {
            let mut heads: Vec<usize> = starts[c * BUCKETS..][..BUCKETS].to_vec();
            for j in range(c) {
                let w = word(j);
                let head = &mut heads[(w >> shift) as usize];
                // SAFETY: the heads of all chunks and buckets cover 0..n, each slot once.
                unsafe { (*out_at.get().add(*head)).write(w) };
                *head += 1;
            }
        });
    };
    // SAFETY: the spread writes every one of the n slots (the counts add up to n).
    let mut words: Vec<u64> = unsafe { buffer::written(n, shape, "sort", spread)? };
    let mut scratch: Vec<u64> = buffer::with_capacity(n, shape, "sort")?;
    let mut buckets: Vec<(usize, usize)> = (0..BUCKETS).map(|d| (bounds[d], bounds[d + 1])).filter(|(a, b)| b > a).collect();
    buckets.sort_unstable_by_key(|&(a, b)| std::cmp::Reverse(b - a));
    let (words_at, scratch_at) = (SendPtr(words.as_mut_ptr()), SendPtr(scratch.as_mut_ptr()));
    run_parts(buckets.len(), |k| {
        let (a, b) = buckets[k];
        // SAFETY: buckets are disjoint ranges of both buffers; the scratch range is written
        // before it is read.
        let bucket = unsafe { std::slice::from_raw_parts_mut(words_at.get().add(a), b - a) };
        let scratch = unsafe { scratch_at.get().add(a) };
        let put = |i: usize, w: u64| put(a + i, w);
        // The bucket's keys share their top TOP_BITS bits: only the bytes below need sorting.
        if bucket.len() < RADIX_MIN {
            bucket.sort_unstable();
            for (i, &w) in bucket.iter().enumerate() {
                put(i, w);
            }
        } else {
            radix_sort_words::<{ (32 - TOP_BITS as usize).div_ceil(8) }>(bucket, scratch, put);
        }
    });
    Ok(())
}

/// Stable LSD radix sort of `(key << 32 | index)` words on the key's low `PASSES` bytes,
/// with `scratch` (room for as many words, possibly uninitialised) as the second buffer; a
/// pass whose byte is the same in every word is skipped. One read counts every pass's
/// digits; the sorted words go to `put(position, word)`.
fn radix_sort_words<const PASSES: usize>(words: &mut [u64], scratch: *mut u64, put: impl Fn(usize, u64)) {
    let n = words.len();
    let mut counts = [[0u32; 256]; PASSES];
    for &w in words.iter() {
        for (p, count) in counts.iter_mut().enumerate() {
            count[((w >> (32 + 8 * p)) & 0xff) as usize] += 1;
        }
    }
    let mut in_scratch = false;
    for (p, count) in counts.iter_mut().enumerate() {
        if !bucket_starts(count, n) {
            continue;
        }
        let shift = 32 + 8 * p;
        let (from, to) = if in_scratch { (scratch as *const u64, words.as_mut_ptr()) } else { (words.as_ptr(), scratch) };
        for i in 0..n {
            // SAFETY: `from` holds n written words; the prefix sums place each at a distinct
            // slot of `to` below n.
            unsafe {
                let w = *from.add(i);
                let slot = count.get_unchecked_mut(((w >> shift) & 0xff) as usize);
                *to.add(*slot as usize) = w;
                *slot += 1;
            }
        }
        in_scratch = !in_scratch;
    }
    let sorted = if in_scratch { scratch as *const u64 } else { words.as_ptr() };
    for i in 0..n {
        // SAFETY: the last pass (or the input, when no pass moved anything) wrote all n.
        put(i, unsafe { *sorted.add(i) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_sorts_last_and_ties_keep_their_order() {
        let a = Tensor::from_vec(vec![2f32, f32::NAN, -0.0, 0.0, 1.0], &[5]).unwrap();
        let (v, i) = sort(&a, 0, false).unwrap();
        let v = v.to_vec::<f32>().unwrap();
        assert_eq!(&v[..4], &[-0.0, 0.0, 1.0, 2.0]);
        assert!(v[4].is_nan());
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 3, 4, 0, 1]);
        let (_, i) = sort(&a, 0, true).unwrap();
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0, 4, 2, 3]);
    }

    #[test]
    fn long_float32_rows_match_a_stable_comparison_sort_both_ways() {
        // Long enough for the radix path; zeros of both signs, NaN, infinities and ties.
        let special = [0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.5, -1.5, f32::MIN_POSITIVE, -f32::MAX];
        let v: Vec<f32> = (0..1000u32).map(|i| special[(i * 7 % 11) as usize % special.len()] * if i % 3 == 0 { 1.0 } else { (i % 17) as f32 }).collect();
        let a = Tensor::from_vec(v.clone(), &[v.len()]).unwrap();
        for descending in [false, true] {
            let (s, idx) = sort(&a, 0, descending).unwrap();
            let mut want: Vec<usize> = (0..v.len()).collect();
            want.sort_by(|&i, &j| {
                let o = v[i].key().cmp(&v[j].key());
                if descending { o.reverse() } else { o }
            });
            let idx: Vec<usize> = idx.to_vec::<i64>().unwrap().into_iter().map(|j| j as usize).collect();
            assert_eq!(idx, want);
            for (got, &j) in s.to_vec::<f32>().unwrap().iter().zip(&idx) {
                assert_eq!(got.to_bits(), v[j].to_bits(), "the sorted value is the input's, sign of zero included");
            }
        }
    }

    /// Checks `sort(a, dim, descending)` against a stable comparison sort of each row.
    fn check_against_stable_sort(v: &[f32], shape: &[usize], dim: usize) {
        let a = Tensor::from_vec(v.to_vec(), shape).unwrap();
        let (n, inner) = (shape[dim], shape[dim + 1..].iter().product::<usize>());
        for descending in [false, true] {
            let (s, idx) = sort(&a, dim, descending).unwrap();
            let (s, idx) = (s.to_vec::<f32>().unwrap(), idx.to_vec::<i64>().unwrap());
            for r in 0..v.len() / n {
                let b = (r / inner) * n * inner + r % inner;
                let mut want: Vec<usize> = (0..n).collect();
                want.sort_by(|&i, &j| {
                    let o = v[b + i * inner].key().cmp(&v[b + j * inner].key());
                    if descending { o.reverse() } else { o }
                });
                for (pos, &j) in want.iter().enumerate() {
                    assert_eq!(idx[b + pos * inner], j as i64, "row {r} position {pos}");
                    assert_eq!(s[b + pos * inner].to_bits(), v[b + j * inner].to_bits(), "the sorted value is the input's, sign of zero included");
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)] // the direct test below runs the same code on a short row
    fn rows_long_enough_to_be_split_into_buckets_sort_like_short_ones() {
        // Two rows of LONG_ROW + 3 along the middle dimension, interleaved (inner = 2): runs of
        // equal keys far longer than a bucket's sort, zeros of both signs, NaN, infinities.
        let n = LONG_ROW + 3;
        let special = [0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0e-30, -7.0];
        let v: Vec<f32> = (0..2 * n * 2).map(|i| if i % 5 == 0 { special[i % special.len()] } else { ((i * 7919) % 1013) as f32 - 500.0 }).collect();
        check_against_stable_sort(&v, &[2, n, 2], 1);
    }

    #[test]
    fn bucket_split_sort_of_one_row_is_stable() {
        let n = 3000;
        let keys: Vec<u64> = (0..n as u64).map(|j| ((j * 2654435761) % 97) << (64 - TOP_BITS) | (j % 3) << 40).collect();
        let out: Vec<std::sync::atomic::AtomicU64> = (0..n).map(|_| Default::default()).collect();
        sort_long_row(n, &[n], |j| keys[j] | j as u64, |pos, w| out[pos].store(w, std::sync::atomic::Ordering::Relaxed)).unwrap();
        let got: Vec<u64> = out.into_iter().map(|w| w.into_inner()).collect();
        let mut want: Vec<u64> = (0..n).map(|j| keys[j] | j as u64).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn sorts_columns_of_int64() {
        let a = Tensor::from_vec(vec![3i64, -1, 1, 5, -2, 0], &[3, 2]).unwrap();
        let (v, i) = sort(&a, 0, false).unwrap();
        assert_eq!(v.to_vec::<i64>().unwrap(), vec![-2, -1, 1, 0, 3, 5]);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 0, 1, 2, 0, 1]);
    }
}
