//! Sorting along one dim of a contiguous tensor viewed as `[outer, n, inner]`: each row is
//! sorted as (key, index) pairs, where the key maps the value to an unsigned integer in a
//! total order (NaN largest, -0.0 equal to 0.0) and the index breaks ties. That order makes
//! every sort stable (PyTorch's `stable=True`, a valid answer for `stable=False` too) and
//! lets an integer sort do the work: a stable LSD radix sort of the keys (equal keys keep
//! index order), a comparison sort for short rows. Rows run in parallel.

use super::{run_parts, SendPtr, PARALLEL_THRESHOLD};
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
        (if b >> 31 == 1 { !b } else { b | 0x8000_0000 }) as u64
    }

    #[inline(always)]
    fn from_sort_key(key: u64) -> Option<f32> {
        let k = key as u32;
        if k == u32::MAX || k == 0x8000_0000 {
            return None;
        }
        Some(f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k }))
    }
}

impl SortKey for f64 {
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        let b = (self + 0.0).to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | (1 << 63)
        }
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
fn bucket_starts(count: &mut [usize; 256], n: usize) -> bool {
    if count.contains(&n) {
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
        let mut count = [0usize; 256];
        for &k in keys.iter() {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        if !bucket_starts(&mut count, n) {
            continue;
        }
        for (&k, &j) in keys.iter().zip(order.iter()) {
            let d = ((k >> shift) & 0xff) as usize;
            k2[count[d]] = k;
            o2[count[d]] = j;
            count[d] += 1;
        }
        std::mem::swap(keys, &mut k2);
        std::mem::swap(order, &mut o2);
    }
}

/// Stable LSD radix sort of `(key << 32 | index)` words on their key half, one byte per
/// pass; one read counts every byte's digits, and a pass whose byte is the same everywhere is
/// skipped. The words hold their indices, so nothing else moves.
fn radix_sort_words(words: &mut Vec<u64>) {
    let n = words.len();
    let mut counts = [[0usize; 256]; 4];
    for &w in words.iter() {
        for (b, count) in counts.iter_mut().enumerate() {
            count[((w >> (32 + 8 * b)) & 0xff) as usize] += 1;
        }
    }
    let mut other = vec![0u64; n];
    for (b, count) in counts.iter_mut().enumerate() {
        if !bucket_starts(count, n) {
            continue;
        }
        let shift = 32 + 8 * b;
        for &w in words.iter() {
            let d = ((w >> shift) & 0xff) as usize;
            // SAFETY: the prefix sums place each of the n words at a distinct slot below n.
            unsafe { *other.get_unchecked_mut(count[d]) = w };
            count[d] += 1;
        }
        std::mem::swap(words, &mut other);
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
    let mut ys: Vec<T> = buffer::zeroed(total, &shape, "sort")?;
    let mut idx: Vec<i64> = buffer::zeroed(total, &shape, "sort")?;
    let rows = if n == 0 { 0 } else { total / n };
    let (yp, ip) = (SendPtr(ys.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
    // float32 keys use 4 bytes (4 radix passes), the others 8.
    let key_bytes = if T::DTYPE == crate::tensor::DType::F32 { 4 } else { 8 };
    let flip = if descending { u64::MAX >> (64 - 8 * key_bytes) } else { 0 };
    let row = |r: usize| {
        let (o, i) = (r / inner, r % inner);
        let at = |j: usize| (o * n + j) * inner + i;
        let put = |pos: usize, j: usize, value: T| {
            // SAFETY: row r alone writes the positions at(0..n) of its (outer, inner) pair.
            unsafe {
                *yp.get().add(at(pos)) = value;
                *ip.get().add(at(pos)) = j as i64;
            }
        };
        if key_bytes == 4 {
            // (key << 32 | index) in one word: sorting the words sorts by key, then index.
            let mut words: Vec<u64> = (0..n).map(|j| ((xs[at(j)].key() ^ flip) << 32) | j as u64).collect();
            if n >= RADIX_MIN {
                radix_sort_words(&mut words);
            } else {
                words.sort_unstable();
            }
            for (pos, &w) in words.iter().enumerate() {
                let j = (w & 0xffff_ffff) as usize;
                // The key gives the value back, except for 0 (-0.0 and 0.0 share a key) and
                // NaN (payloads), which are read from the input: no random gather otherwise.
                let value = T::from_sort_key((w >> 32) ^ flip).unwrap_or_else(|| xs[at(j)]);
                put(pos, j, value);
            }
            return;
        }
        let mut keys: Vec<u64> = (0..n).map(|j| xs[at(j)].key() ^ flip).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        if n >= RADIX_MIN {
            radix_sort(&mut keys, &mut order, key_bytes);
        } else {
            let mut pairs: Vec<(u64, u32)> = keys.into_iter().zip(order.iter().copied()).collect();
            pairs.sort_unstable();
            order = pairs.into_iter().map(|(_, j)| j).collect();
        }
        for (pos, &j) in order.iter().enumerate() {
            put(pos, j as usize, xs[at(j as usize)]);
        }
    };
    if total >= PARALLEL_THRESHOLD && rows > 1 {
        run_parts(rows, row);
    } else {
        (0..rows).for_each(row);
    }
    Ok((Tensor::from_vec(ys, &shape)?, Tensor::from_vec(idx, &shape)?))
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

    #[test]
    fn sorts_columns_of_int64() {
        let a = Tensor::from_vec(vec![3i64, -1, 1, 5, -2, 0], &[3, 2]).unwrap();
        let (v, i) = sort(&a, 0, false).unwrap();
        assert_eq!(v.to_vec::<i64>().unwrap(), vec![-2, -1, 1, 0, 3, 5]);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 0, 1, 2, 0, 1]);
    }
}
