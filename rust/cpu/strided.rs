//! Iteration over strided layouts: dimensions are collapsed where the strides of every
//! operand allow, and the work is handed out as runs along the innermost dimension, so
//! kernels get tight inner loops (and contiguous slices when every inner stride is 1).

use crate::tensor::Dims;
use rayon::prelude::*;
use smallvec::SmallVec;

/// A set of `N` operand layouts over one iteration shape, with dims collapsed.
#[derive(Clone, Debug)]
pub struct Walk<const N: usize> {
    pub shape: Dims,
    pub strides: [Dims; N],
    pub offsets: [usize; N],
}

impl<const N: usize> Walk<N> {
    /// `strides[k]` are operand k's strides over `shape` (0 where broadcast).
    pub fn new(shape: &[usize], strides: [&[usize]; N], offsets: [usize; N]) -> Walk<N> {
        let mut out_shape: Dims = SmallVec::new();
        let mut out_strides: [Dims; N] = std::array::from_fn(|_| SmallVec::new());
        for d in 0..shape.len() {
            if shape[d] == 1 {
                continue;
            }
            let can_merge = !out_shape.is_empty()
                && (0..N).all(|k| {
                    let last = out_strides[k].len() - 1;
                    out_strides[k][last] == strides[k][d] * shape[d]
                });
            if can_merge {
                let last = out_shape.len() - 1;
                out_shape[last] *= shape[d];
                for k in 0..N {
                    out_strides[k][last] = strides[k][d];
                }
            } else {
                out_shape.push(shape[d]);
                for k in 0..N {
                    out_strides[k].push(strides[k][d]);
                }
            }
        }
        Walk { shape: out_shape, strides: out_strides, offsets }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Calls `f(offsets, len, inner_strides)` for each run along the innermost dimension.
    pub fn for_each_run(&self, mut f: impl FnMut([usize; N], usize, [usize; N])) {
        let nd = self.shape.len();
        if nd == 0 {
            f(self.offsets, 1, [0; N]);
            return;
        }
        if self.numel() == 0 {
            return;
        }
        let inner = self.shape[nd - 1];
        let inner_strides: [usize; N] = std::array::from_fn(|k| self.strides[k][nd - 1]);
        let mut idx: SmallVec<[usize; 4]> = SmallVec::from_elem(0, nd - 1);
        let mut offs = self.offsets;
        loop {
            f(offs, inner, inner_strides);
            // odometer increment over the outer dims
            let mut d = nd - 1;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                for k in 0..N {
                    offs[k] += self.strides[k][d];
                }
                if idx[d] < self.shape[d] {
                    break;
                }
                for k in 0..N {
                    offs[k] -= self.strides[k][d] * self.shape[d];
                }
                idx[d] = 0;
            }
        }
    }

    /// Splits the walk along its outermost dimension into pieces for parallel execution.
    pub fn split(&self, pieces: usize) -> Vec<Walk<N>> {
        if self.shape.is_empty() || pieces <= 1 {
            return vec![self.clone()];
        }
        let outer = self.shape[0];
        if outer == 1 {
            return vec![self.clone()];
        }
        let chunk = outer.div_ceil(pieces.min(outer));
        (0..outer)
            .step_by(chunk)
            .map(|start| {
                let mut w = self.clone();
                w.shape[0] = chunk.min(outer - start);
                for k in 0..N {
                    w.offsets[k] += start * self.strides[k][0];
                }
                w
            })
            .collect()
    }

    /// `for_each_run`, on rayon when the walk is large. `f` must only touch disjoint output
    /// positions per run (true for every elementwise kernel writing a fresh output).
    pub fn par_for_each_run(&self, f: impl Fn([usize; N], usize, [usize; N]) + Sync + Send) {
        let n = self.numel();
        if !super::parallel(n) || self.shape.is_empty() {
            self.for_each_run(f);
            return;
        }
        // Make the outer dimension big enough to split: fold in inner dims if needed.
        let pieces = rayon::current_num_threads() * 4;
        let walk = if self.shape[0] < pieces && self.shape.len() >= 2 { self.rebalanced(pieces) } else { self.clone() };
        walk.split(pieces).par_iter().for_each(|w| w.for_each_run(&f));
    }

    /// Splits the innermost dimension so the outer ones have at least `pieces` positions.
    fn rebalanced(&self, pieces: usize) -> Walk<N> {
        let nd = self.shape.len();
        let outer: usize = self.shape[..nd - 1].iter().product();
        let inner = self.shape[nd - 1];
        if outer >= pieces || inner < 2 * pieces {
            return self.clone();
        }
        let parts = pieces.div_ceil(outer);
        let mut parts = parts.min(inner);
        while inner % parts != 0 {
            parts -= 1;
        }
        if parts <= 1 {
            return self.clone();
        }
        let mut w = self.clone();
        w.shape[nd - 1] = inner / parts;
        w.shape.insert(nd - 1, parts);
        for k in 0..N {
            let s = self.strides[k][nd - 1];
            w.strides[k].insert(nd - 1, s * (inner / parts));
        }
        // Put the new dim first so `split` sees the big outer extent: move dims to front.
        let (shape, strides) = move_to_front(&w.shape, &w.strides, nd - 1);
        Walk { shape, strides, offsets: w.offsets }
    }
}

fn move_to_front<const N: usize>(shape: &Dims, strides: &[Dims; N], d: usize) -> (Dims, [Dims; N]) {
    let mut s = shape.clone();
    let v = s.remove(d);
    s.insert(0, v);
    let st = std::array::from_fn(|k| {
        let mut x = strides[k].clone();
        let v = x.remove(d);
        x.insert(0, v);
        x
    });
    (s, st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::PARALLEL_THRESHOLD;

    fn collect<const N: usize>(w: &Walk<N>) -> Vec<[usize; N]> {
        let mut v = vec![];
        w.for_each_run(|o, len, s| {
            for i in 0..len {
                v.push(std::array::from_fn(|k| o[k] + i * s[k]));
            }
        });
        v
    }

    #[test]
    fn contiguous_dims_collapse_to_one_run() {
        let w = Walk::new(&[2, 3, 4], [&[12, 4, 1]], [0]);
        assert_eq!(w.shape.as_slice(), &[24]);
        assert_eq!(collect(&w).len(), 24);
    }

    #[test]
    fn broadcast_operands_visit_the_right_elements() {
        // out [2,3] contiguous, a [2,1] broadcast, b [3] broadcast
        let w = Walk::new(&[2, 3], [&[3, 1], &[1, 0], &[0, 1]], [0, 0, 0]);
        let v = collect(&w);
        assert_eq!(v, vec![[0, 0, 0], [1, 0, 1], [2, 0, 2], [3, 1, 0], [4, 1, 1], [5, 1, 2]]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "100k elements through rayon's pool take Miri over 10 minutes")]
    fn parallel_split_covers_everything_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let n = 3 * PARALLEL_THRESHOLD + 7;
        let w = Walk::new(&[n], [&[1]], [0]);
        let seen: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        w.par_for_each_run(|[o], len, [s]| {
            for i in 0..len {
                seen[o + i * s].fetch_add(1, Ordering::Relaxed);
            }
        });
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        let cols = PARALLEL_THRESHOLD / 2 + 3; // 3 rows: above the threshold, split mid-row
        let w2 = Walk::new(&[3, cols], [&[cols, 1]], [0]);
        let seen2: Vec<AtomicUsize> = (0..3 * cols).map(|_| AtomicUsize::new(0)).collect();
        w2.par_for_each_run(|[o], len, [s]| {
            for i in 0..len {
                seen2[o + i * s].fetch_add(1, Ordering::Relaxed);
            }
        });
        assert!(seen2.iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn scalar_walk_runs_once() {
        let w = Walk::new(&[], [&[], &[]], [5, 7]);
        assert_eq!(collect(&w), vec![[5, 7]]);
        let e = Walk::new(&[0, 3], [&[3, 1]], [0]);
        assert!(collect(&e).is_empty());
    }
}
