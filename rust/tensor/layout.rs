//! Shape, strides and offset: how a tensor's elements sit in its storage. Views (transpose,
//! permute, expand, slicing, reshape of contiguous data) are new layouts over the same storage.

use crate::error::{index_err, shape_err, Result, ShapeDisplay};
use smallvec::SmallVec;

/// Dimensions or strides; four inline entries cover every tensor an MLP makes without a heap allocation.
pub type Dims = SmallVec<[usize; 4]>;

#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

impl Clone for Layout {
    /// Copies the dimensions as slices (SmallVec's own clone goes element by element).
    fn clone(&self) -> Layout {
        Layout { shape: Dims::from_slice(&self.shape), strides: Dims::from_slice(&self.strides), offset: self.offset }
    }
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides for `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
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
    Ok(out)
}

impl Layout {
    #[inline]
    pub fn contiguous(shape: &[usize]) -> Layout {
        if shape.is_empty() {
            return Layout::scalar();
        }
        Layout { strides: contiguous_strides(shape), shape: SmallVec::from_slice(shape), offset: 0 }
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

    /// Storage index of the element at a multi-index.
    pub fn index_of(&self, index: &[usize]) -> usize {
        self.offset + index.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<usize>()
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
        Ok(Layout { shape: SmallVec::from_slice(shape), strides, offset: self.offset })
    }

    /// A view with a new shape over the same elements, when the strides allow one
    /// (PyTorch's `view` rule); `None` means the data must be copied first.
    pub fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() || self.numel() == 0 {
            return Some(Layout { strides: contiguous_strides(shape), shape: SmallVec::from_slice(shape), offset: self.offset });
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
        Some(Layout { shape: SmallVec::from_slice(shape), strides: new_strides, offset: self.offset })
    }

    /// `start:stop:step` along `dim` (already clamped by the caller).
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[dim];
        }
        l.shape[dim] = len;
        l.strides[dim] = self.strides[dim] * step;
        l
    }

    /// Removes `dim` by picking one index along it.
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset += index * self.strides[dim];
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
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
        let s = Layout::contiguous(&[4, 6]).slice(1, 0, 3, 1); // [4, 3] strides [6, 1]
        assert_eq!(s.reshape_view(&[4, 3, 1]).unwrap().strides(), &[6, 1, 1]);
        assert!(s.reshape_view(&[12]).is_none());
        let e = Layout::contiguous(&[1, 3]).expand(&[4, 3], "e").unwrap();
        assert_eq!(e.reshape_view(&[2, 2, 3]).unwrap().strides(), &[0, 0, 1]);
    }

    #[test]
    fn slicing_and_selecting_move_the_offset() {
        let l = Layout::contiguous(&[4, 5]);
        let s = l.slice(1, 1, 2, 2);
        assert_eq!((s.shape(), s.strides(), s.offset()), (&[4usize, 2][..], &[5usize, 2][..], 1));
        let r = l.select(0, 2);
        assert_eq!((r.shape(), r.offset()), (&[5usize][..], 10));
        assert_eq!(r.storage_extent(), 15);
        let p = Layout::new(smallvec![2, 3], smallvec![3, 1], 0).permute(&[1, 0]).unwrap();
        assert_eq!(p.strides(), &[1, 3]);
        assert!(l.permute(&[0, 0]).is_err());
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
        let sliced = Layout::contiguous(&[4, 5]).slice(1, 1, 2, 2); // rows of [1, 3], offset 1
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
