//! Shape, strides and offset: how a tensor's elements sit in its storage. Views (transpose,
//! permute, expand, slicing, reshape of contiguous data) are new layouts over the same storage.

use crate::error::{index_err, shape_err, Result, ShapeDisplay};
use smallvec::SmallVec;

/// Dimensions or strides; four inline entries cover every tensor an MLP makes without a heap allocation.
pub type Dims = SmallVec<[usize; 4]>;

/// `Dims` holding `s`. Up to four entries are copied inline: `SmallVec::from_slice` is a call
/// and a `memcpy` for every shape a recorded op keeps (its inputs' and outputs').
#[inline]
pub fn dims_of(s: &[usize]) -> Dims {
    let buf = match *s {
        [] => [0; 4],
        [a] => [a, 0, 0, 0],
        [a, b] => [a, b, 0, 0],
        [a, b, c] => [a, b, c, 0],
        [a, b, c, d] => [a, b, c, d],
        _ => return Dims::from_slice(s),
    };
    Dims::from_buf_and_len(buf, s.len())
}

#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

impl Clone for Layout {
    /// Copies the dimensions as slices (SmallVec's own clone goes element by element).
    fn clone(&self) -> Layout {
        Layout { shape: dims_of(&self.shape), strides: dims_of(&self.strides), offset: self.offset }
    }
}

/// The element count of a shape. Saturates instead of wrapping, so a shape that slipped past
/// `checked_numel` can only make an allocation fail, never a small buffer that reads run off.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
}

/// The largest element count, stride or offset a layout may hold: an `isize`, as Rust slices
/// and PyTorch's int64 sizes require.
pub const MAX_NUMEL: usize = isize::MAX as usize;

/// The element count of `shape`, checked: every shape a user hands in goes through this (or
/// through a `Layout` method that calls it). It also checks the product of the sizes with
/// zeros counted as ones, which bounds the row-major strides, so a zero-size shape with huge
/// other dimensions cannot overflow them either.
pub fn checked_numel(shape: &[usize], op: &str) -> Result<usize> {
    let mut n: usize = 1;
    let mut span: usize = 1;
    for &d in shape {
        n = n.checked_mul(d).filter(|&v| v <= MAX_NUMEL).ok_or_else(|| too_large(shape, op))?;
        span = span.checked_mul(d.max(1)).filter(|&v| v <= MAX_NUMEL).ok_or_else(|| too_large(shape, op))?;
    }
    Ok(n)
}

fn too_large(shape: &[usize], op: &str) -> crate::error::Error {
    shape_err!(
        "{op}: shape {} has more elements than fit in a 64-bit size (at most {MAX_NUMEL}); use smaller dimensions",
        ShapeDisplay(shape)
    )
}

/// `a + b` and `a * b` for sizes, strides and offsets, as ShapeErrors naming `op` on overflow.
pub fn checked_add(a: usize, b: usize, op: &str) -> Result<usize> {
    a.checked_add(b).filter(|&v| v <= MAX_NUMEL).ok_or_else(|| shape_err!("{op}: size arithmetic overflows ({a} + {b})"))
}

pub fn checked_mul(a: usize, b: usize, op: &str) -> Result<usize> {
    a.checked_mul(b).filter(|&v| v <= MAX_NUMEL).ok_or_else(|| shape_err!("{op}: size arithmetic overflows ({a} * {b})"))
}

/// Row-major strides for `shape` (a shape `checked_numel` accepted; saturating otherwise).
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc: usize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

/// Wraps a possibly negative dimension index into `0..ndim`.
pub fn normalize_dim(dim: isize, ndim: usize, op: &str) -> Result<usize> {
    let n = ndim.max(1) as isize;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(index_err!(
            "{op}: dimension {dim} is out of range for a tensor with {ndim} dimension(s) (expected a value in [{}, {}])",
            -n,
            n - 1
        ));
    }
    Ok(d as usize)
}

/// NumPy broadcasting of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize], op: &str) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(shape_err!(
                "{op}: shapes {} and {} cannot be broadcast together (dimension {i} is {da} vs {db}); \
                 sizes must match or be 1 in every trailing dimension",
                ShapeDisplay(a),
                ShapeDisplay(b)
            ));
        };
    }
    checked_numel(&out, op)?;
    Ok(out)
}

impl Layout {
    #[inline]
    pub fn contiguous(shape: &[usize]) -> Layout {
        if shape.is_empty() {
            return Layout::scalar();
        }
        Layout { strides: contiguous_strides(shape), shape: dims_of(shape), offset: 0 }
    }

    #[inline]
    pub fn scalar() -> Layout {
        Layout { shape: Dims::new(), strides: Dims::new(), offset: 0 }
    }

    pub fn new(shape: Dims, strides: Dims, offset: usize) -> Layout {
        debug_assert_eq!(shape.len(), strides.len());
        Layout { shape, strides, offset }
    }

    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    #[inline]
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }
    #[inline]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    #[inline]
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// True when the elements are laid out row-major without gaps (the offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// The index one past the last storage element this layout can touch.
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset + self.shape.iter().zip(&self.strides).map(|(d, s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// `storage_extent` in checked arithmetic: `None` when it overflows `usize` or the layout
    /// has a different number of strides than dims (layouts built from foreign strides).
    pub fn checked_extent(&self) -> Option<usize> {
        if self.shape.len() != self.strides.len() {
            return None;
        }
        if self.shape.contains(&0) {
            return Some(self.offset);
        }
        let mut last = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            last = last.checked_add((d - 1).checked_mul(s)?)?;
        }
        last.checked_add(1)
    }

    /// Calls `f(storage_index)` for every element, in row-major order. Trailing dims that are
    /// contiguous with each other are walked as one run; no recursion, no allocation for up to
    /// four dims.
    pub fn for_each_index(&self, mut f: impl FnMut(usize)) {
        if self.numel() == 0 {
            return;
        }
        // Merge each dim into the run below it while the strides allow.
        let (mut run, mut run_stride, mut outer) = (1usize, 1usize, self.ndim());
        while outer > 0 {
            let (d, s) = (self.shape[outer - 1], self.strides[outer - 1]);
            if run == 1 {
                (run, run_stride) = (d, s);
            } else if d != 1 && s != run_stride * run {
                break;
            } else {
                run *= d;
            }
            outer -= 1;
        }
        let mut index: Dims = smallvec::smallvec![0; outer];
        let mut base = self.offset;
        loop {
            for i in 0..run {
                f(base + i * run_stride);
            }
            // Odometer step over the outer dims.
            let mut d = outer;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                base += self.strides[d];
                if index[d] < self.shape[d] {
                    break;
                }
                base -= self.strides[d] * self.shape[d];
                index[d] = 0;
            }
        }
    }

    pub fn permute(&self, perm: &[usize]) -> Result<Layout> {
        let n = self.ndim();
        let mut seen: SmallVec<[bool; 8]> = SmallVec::from_elem(false, n);
        if perm.len() != n || perm.iter().any(|&p| p >= n || std::mem::replace(&mut seen[p], true)) {
            return Err(shape_err!(
                "permute: {:?} is not a permutation of the {n} dimensions of a tensor of shape {}",
                perm,
                ShapeDisplay(&self.shape)
            ));
        }
        Ok(Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    pub fn transpose(&self, d0: usize, d1: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(d0, d1);
        l.strides.swap(d0, d1);
        l
    }

    /// Broadcast view to `shape` (stride 0 along the expanded dimensions).
    pub fn expand(&self, shape: &[usize], op: &str) -> Result<Layout> {
        let n = shape.len();
        if n < self.ndim() {
            return Err(shape_err!(
                "{op}: cannot expand a tensor of shape {} to fewer dimensions {}",
                ShapeDisplay(&self.shape),
                ShapeDisplay(shape)
            ));
        }
        let lead = n - self.ndim();
        let mut strides: Dims = SmallVec::from_elem(0, n);
        for i in 0..n {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            if d == shape[i] {
                strides[i] = s;
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(shape_err!(
                    "{op}: cannot expand a tensor of shape {} to {}: dimension {} has size {d}, which is not 1",
                    ShapeDisplay(&self.shape),
                    ShapeDisplay(shape),
                    i - lead
                ));
            }
        }
        checked_numel(shape, op)?;
        Ok(Layout { shape: dims_of(shape), strides, offset: self.offset }.without_dangling_offset())
    }

    /// A view with a new shape over the same elements, when the strides allow one
    /// (PyTorch's `view` rule); `None` means the data must be copied first.
    pub fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() || self.numel() == 0 {
            return Some(Layout { strides: contiguous_strides(shape), shape: dims_of(shape), offset: self.offset });
        }
        // Split the old dims into chunks that are contiguous among themselves, and match
        // the new dims onto those chunks.
        let old: Dims = self.shape.clone();
        let old_strides = self.strides.clone();
        let mut new_strides: Dims = SmallVec::from_elem(0, shape.len());
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *old_strides.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..old.len()).rev() {
            tensor_numel *= old[tensor_d];
            let chunk_ends = tensor_d == 0
                || (old[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if chunk_ends {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = old_strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout { shape: dims_of(shape), strides: new_strides, offset: self.offset })
    }

    /// `len` elements `start, start+step, ...` along `dim`; all of them must lie inside the
    /// dimension (a ShapeError naming `op` otherwise), so no view reaches past its storage.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize, op: &str) -> Result<Layout> {
        let size = self.shape[dim];
        if step == 0 {
            return Err(shape_err!("{op}: step must be positive"));
        }
        let mut l = self.clone();
        if len > 0 {
            let last = (len - 1).checked_mul(step).and_then(|v| v.checked_add(start));
            if last.is_none_or(|last| last >= size) {
                return Err(index_err!(
                    "{op}: {len} element(s) from {start} in steps of {step} do not fit in dimension {dim} of size {size} (shape {})",
                    ShapeDisplay(&self.shape)
                ));
            }
            l.offset += start * self.strides[dim];
        }
        l.shape[dim] = len;
        // One element or none: the stride is never used, and a huge step must not overflow it.
        l.strides[dim] = if len > 1 { self.strides[dim] * step } else { self.strides[dim] };
        Ok(l.without_dangling_offset())
    }

    /// Removes `dim` by picking one index along it (an index `check_index` accepted).
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset += index * self.strides[dim];
        l.shape.remove(dim);
        l.strides.remove(dim);
        l.without_dangling_offset()
    }

    /// A zero-size view keeps offset 0: its old offset may point past the end of an empty
    /// storage, where kernels slicing `storage[offset..offset + 0]` would go out of bounds.
    fn without_dangling_offset(mut self) -> Layout {
        if self.shape.contains(&0) {
            self.offset = 0;
        }
        self
    }

    /// A layout from arbitrary parts, checked against a storage of `storage_len` elements:
    /// every element it addresses must lie inside (ShapeError naming `op` otherwise).
    pub fn checked(shape: &[usize], strides: &[usize], offset: usize, storage_len: usize, op: &str) -> Result<Layout> {
        if shape.len() != strides.len() {
            return Err(shape_err!("{op}: {} sizes but {} strides", shape.len(), strides.len()));
        }
        let n = checked_numel(shape, op)?;
        let l = Layout { shape: dims_of(shape), strides: dims_of(strides), offset };
        if n == 0 {
            return Ok(l.without_dangling_offset());
        }
        let mut last = offset;
        for (&d, &s) in shape.iter().zip(strides) {
            last = checked_add(last, checked_mul(d - 1, s, op)?, op)?;
        }
        if last >= storage_len {
            return Err(shape_err!(
                "{op}: shape {} with strides {:?} and offset {offset} reaches element {last} of a storage of {storage_len}",
                ShapeDisplay(shape),
                strides
            ));
        }
        Ok(l)
    }

    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let stride = if dim < self.ndim() { self.strides[dim] * self.shape[dim] } else { 1 };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, stride);
        l
    }

    pub fn squeeze_dim(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        if l.shape[dim] == 1 {
            l.shape.remove(dim);
            l.strides.remove(dim);
        }
        l
    }

    /// Checks that a multi-index is inside the shape.
    pub fn check_index(&self, dim: usize, index: isize, op: &str) -> Result<usize> {
        let size = self.shape[dim] as isize;
        let i = if index < 0 { index + size } else { index };
        if i < 0 || i >= size {
            return Err(index_err!("{op}: index {index} is out of bounds for dimension {dim} with size {size}"));
        }
        Ok(i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    #[test]
    fn contiguous_strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert_eq!(contiguous_strides(&[]).as_slice(), &[] as &[usize]);
        assert!(Layout::contiguous(&[2, 3]).is_contiguous());
        assert!(!Layout::contiguous(&[2, 3]).transpose(0, 1).is_contiguous());
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4], "add").unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2], "add").unwrap().as_slice(), &[2, 2]);
        assert_eq!(broadcast_shapes(&[5, 1, 3], &[4, 1], "add").unwrap().as_slice(), &[5, 4, 3]);
        assert!(broadcast_shapes(&[3], &[4], "add").is_err());
    }

    #[test]
    fn expand_uses_zero_strides() {
        let l = Layout::contiguous(&[3, 1]).expand(&[2, 3, 4], "expand").unwrap();
        assert_eq!(l.strides(), &[0, 1, 0]);
        assert!(Layout::contiguous(&[3]).expand(&[4], "expand").is_err());
    }

    #[test]
    fn reshape_views_where_strides_allow() {
        let t = Layout::contiguous(&[2, 3, 4]).transpose(0, 1); // [3, 2, 4], strides [4, 12, 1]
        assert!(t.reshape_view(&[6, 4]).is_none());
        assert_eq!(t.reshape_view(&[3, 2, 2, 2]).unwrap().strides(), &[4, 12, 2, 1]);
        let s = Layout::contiguous(&[4, 6]).slice(1, 0, 3, 1, "s").unwrap(); // [4, 3] strides [6, 1]
        assert_eq!(s.reshape_view(&[4, 3, 1]).unwrap().strides(), &[6, 1, 1]);
        assert!(s.reshape_view(&[12]).is_none());
        let e = Layout::contiguous(&[1, 3]).expand(&[4, 3], "e").unwrap();
        assert_eq!(e.reshape_view(&[2, 2, 3]).unwrap().strides(), &[0, 0, 1]);
    }

    #[test]
    fn slicing_and_selecting_move_the_offset() {
        let l = Layout::contiguous(&[4, 5]);
        let s = l.slice(1, 1, 2, 2, "s").unwrap();
        assert_eq!((s.shape(), s.strides(), s.offset()), (&[4usize, 2][..], &[5usize, 2][..], 1));
        let r = l.select(0, 2);
        assert_eq!((r.shape(), r.offset()), (&[5usize][..], 10));
        assert_eq!(r.storage_extent(), 15);
        let p = Layout::new(smallvec![2, 3], smallvec![3, 1], 0).permute(&[1, 0]).unwrap();
        assert_eq!(p.strides(), &[1, 3]);
        assert!(l.permute(&[0, 0]).is_err());
    }

    /// Sizes that sit on the edges of 64-bit arithmetic, plus small ones.
    const EDGES: [usize; 12] = [0, 1, 2, 3, 7, 1 << 31, 1 << 32, (1 << 32) + 1, 1 << 62, MAX_NUMEL, MAX_NUMEL + 1, usize::MAX];

    /// A small deterministic generator (xorshift64*), so the property loops need no crate.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn size(&mut self) -> usize {
            match self.next() % 4 {
                0 => EDGES[(self.next() % EDGES.len() as u64) as usize],
                1 => (self.next() % 5) as usize,
                2 => 1usize << (self.next() % 64),
                _ => (self.next() >> (self.next() % 64)) as usize,
            }
        }
        fn shape(&mut self) -> Vec<usize> {
            (0..self.next() % 6).map(|_| self.size()).collect()
        }
    }

    /// The exact element count, in 128-bit arithmetic (None past u128).
    fn exact(shape: &[usize]) -> Option<u128> {
        if shape.contains(&0) {
            return Some(0);
        }
        shape.iter().try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
    }

    #[test]
    fn checked_numel_agrees_with_exact_arithmetic() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let shape = g.shape();
            let span = exact(&shape.iter().map(|&d| d.max(1)).collect::<Vec<_>>());
            let fits = span.is_some_and(|s| s <= MAX_NUMEL as u128);
            match checked_numel(&shape, "t") {
                Ok(n) => {
                    assert!(fits, "{shape:?} accepted");
                    assert_eq!(Some(n as u128), exact(&shape), "{shape:?}");
                    assert_eq!(numel(&shape), n);
                }
                Err(e) => {
                    assert!(!fits, "{shape:?} refused");
                    assert!(e.to_string().contains("t: shape"), "{e}");
                }
            }
            // numel never wraps: it is exact or saturated.
            let n = numel(&shape) as u128;
            assert!(exact(&shape).map_or(n == usize::MAX as u128, |e| n == e.min(usize::MAX as u128)), "{shape:?}");
        }
    }

    #[test]
    fn accepted_shapes_have_in_range_strides_and_extents() {
        let mut g = Gen(7);
        for _ in 0..20_000 {
            let shape = g.shape();
            let Ok(n) = checked_numel(&shape, "t") else { continue };
            let l = Layout::contiguous(&shape);
            assert_eq!(l.storage_extent(), n, "{shape:?}");
            for (i, &s) in l.strides().iter().enumerate() {
                assert_eq!(s as u128, exact(&shape[i + 1..].iter().map(|&d| d.max(1)).collect::<Vec<_>>()).unwrap(), "{shape:?}");
            }
            // Broadcasting the shape against itself with 1s accepts it and keeps it.
            let ones: Vec<usize> = shape.iter().map(|_| 1).collect();
            assert_eq!(broadcast_shapes(&shape, &ones, "t").unwrap().as_slice(), shape.as_slice());
        }
    }

    #[test]
    fn broadcasts_and_expands_that_overflow_are_shape_errors() {
        let big = 1usize << 32;
        assert!(broadcast_shapes(&[big, 1], &[1, big], "add").is_err());
        assert!(broadcast_shapes(&[big, 1, 1], &[1, big, 1], "add").is_err());
        assert!(broadcast_shapes(&[1 << 31, 1], &[1, 1 << 31], "add").is_ok());
        let one = Layout::contiguous(&[1, 1]);
        assert!(one.expand(&[big, big], "expand").is_err());
        assert!(one.expand(&[MAX_NUMEL, 1], "expand").is_ok());
        let mut g = Gen(11);
        for _ in 0..5_000 {
            let (a, b) = (g.size(), g.size());
            let r = Layout::contiguous(&[1, 1]).expand(&[a, b], "expand");
            assert_eq!(r.is_ok(), checked_numel(&[a, b], "x").is_ok(), "{a} x {b}");
        }
    }

    #[test]
    fn slices_never_reach_past_their_dimension() {
        let l = Layout::contiguous(&[4, 6]);
        assert!(l.slice(1, 1, usize::MAX, 1, "narrow").is_err());
        assert!(l.slice(1, usize::MAX, 1, 1, "narrow").is_err());
        assert!(l.slice(1, 2, 3, usize::MAX, "slice").is_err());
        assert!(l.slice(1, 5, 1, usize::MAX, "slice").is_ok()); // one element: the step is unused
        assert!(l.slice(1, 6, 0, 1, "slice").is_ok());
        let mut g = Gen(3);
        for _ in 0..20_000 {
            let (start, len, step) = ((g.next() % 9) as usize, g.size(), g.size().max(1));
            match l.slice(1, start, len, step, "slice") {
                Ok(s) => {
                    assert!(s.storage_extent() <= 24, "{start} {len} {step}");
                    assert!(len == 0 || start + (len - 1) * step < 6);
                }
                Err(_) => assert!(len > 0 && (len - 1).checked_mul(step).and_then(|v| v.checked_add(start)).is_none_or(|v| v >= 6)),
            }
        }
    }

    #[test]
    fn zero_size_views_keep_no_dangling_offset() {
        let l = Layout::contiguous(&[3, 0]);
        assert_eq!(l.select(0, 2).offset(), 0);
        assert_eq!(Layout::contiguous(&[4]).slice(0, 3, 0, 1, "s").unwrap().offset(), 0);
        assert_eq!(Layout::contiguous(&[4, 2]).slice(0, 2, 2, 1, "s").unwrap().offset(), 4);
    }

    #[test]
    fn checked_layouts_stay_inside_their_storage() {
        assert!(Layout::checked(&[2, 3], &[3, 1], 0, 6, "as_strided").is_ok());
        assert!(Layout::checked(&[2, 3], &[3, 1], 1, 6, "as_strided").is_err());
        assert!(Layout::checked(&[2, 3], &[usize::MAX, 1], 0, 6, "as_strided").is_err());
        assert!(Layout::checked(&[0, 3], &[usize::MAX, 1], 99, 0, "as_strided").unwrap().offset() == 0);
        assert!(Layout::checked(&[2], &[1, 1], 0, 6, "as_strided").is_err());
        assert!(checked_add(MAX_NUMEL, 1, "t").is_err() && checked_mul(1 << 32, 1 << 31, "t").is_err());
        assert_eq!(checked_mul(1 << 31, 1 << 31, "t").unwrap(), 1 << 62);
    }

    #[test]
    fn for_each_index_walks_any_layout_in_logical_order() {
        let visit = |l: &Layout| {
            let mut v = vec![];
            l.for_each_index(|i| v.push(i));
            v
        };
        assert_eq!(visit(&Layout::contiguous(&[2, 3]).transpose(0, 1)), vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(visit(&Layout::contiguous(&[2, 3])), (0..6).collect::<Vec<_>>());
        assert_eq!(visit(&Layout::scalar()), vec![0]);
        assert!(visit(&Layout::contiguous(&[2, 0, 3])).is_empty());
        let sliced = Layout::contiguous(&[4, 5]).slice(1, 1, 2, 2, "test").unwrap(); // rows of [1, 3], offset 1
        assert_eq!(visit(&sliced), vec![1, 3, 6, 8, 11, 13, 16, 18]);
        let expanded = Layout::contiguous(&[3, 1]).expand(&[2, 3, 2], "e").unwrap();
        assert_eq!(visit(&expanded), vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
        // The same order as an explicit multi-index walk, for a permuted 4-d layout.
        let p = Layout::contiguous(&[2, 3, 1, 4]).permute(&[3, 0, 2, 1]).unwrap();
        let mut expected = vec![];
        for a in 0..4 {
            for b in 0..2 {
                for c in 0..3 {
                    expected.push(p.offset() + a * p.strides()[0] + b * p.strides()[1] + c * p.strides()[3]);
                }
            }
        }
        assert_eq!(visit(&p), expected);
    }

    #[test]
    fn unsqueeze_and_squeeze_round_trip() {
        let l = Layout::contiguous(&[2, 3]);
        let u = l.unsqueeze(1);
        assert_eq!(u.shape(), &[2, 1, 3]);
        assert!(u.is_contiguous());
        assert_eq!(u.squeeze_dim(1), l);
        assert_eq!(normalize_dim(-1, 3, "sum").unwrap(), 2);
        assert!(normalize_dim(3, 3, "sum").is_err());
    }
}
