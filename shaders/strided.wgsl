// Strided views over flat buffers (a library: kernels include it with `//!include strided.wgsl`).
//
// Every tensor element is one 32-bit word: f32 bits, an i32 (int64 carried in 32 bits) or a
// bool (0 or 1). A kernel walks an iteration shape of up to 8 dims; per dim, `strides[d]`
// holds the strides of up to four operands (x, y, z, w), so one unravel of a flat index gives
// every operand's offset. Offsets are relative to each operand's bound window and use
// wrapping u32 arithmetic (a window may start after the view's base offset).
//
// Reductions split the dims: [0, split) are kept (one output each), [split, ndim) reduced.

struct Walk {
    shape: array<vec4<u32>, 2>,
    strides: array<vec4<u32>, 8>,
    offsets: vec4<u32>,
    ndim: u32,
    split: u32,
    // work items of this launch, and the index of its first one (launches are chunked)
    count: u32,
    base: u32,
    u: vec4<u32>,
    f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> walk: Walk;

// dtype codes of the override constants
const F32: u32 = 0u;
const I32: u32 = 1u;
const BOOL: u32 = 2u;
// Only the cast kernel sees these: float16 and bfloat16 tensors hold float32 words whose
// values are rounded to the type, and every other kernel reads them as F32.
const F16: u32 = 3u;
const BF16: u32 = 4u;

const WG: u32 = 256u;

fn dim_size(d: u32) -> u32 {
    return walk.shape[d >> 2u][d & 3u];
}

// Offsets (operands x, y, z, w) of the element with row-major index `flat` over dims [lo, hi),
// not counting the operands' base offsets.
fn unravel(flat: u32, lo: u32, hi: u32) -> vec4<u32> {
    if (hi == lo + 1u) {
        return flat * walk.strides[lo];
    }
    var rem = flat;
    var off = vec4<u32>(0u);
    var d = hi;
    loop {
        if (d <= lo) { break; }
        d = d - 1u;
        let size = dim_size(d);
        off += (rem % size) * walk.strides[d];
        rem = rem / size;
    }
    return off;
}

// Index of this workgroup on a grid folded into two dimensions (each at most 65535).
fn workgroup_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// NaN test on the bits: compilers may fold `x != x` away.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// Nonzero test on the bits (so -0.0 is zero and NaN is not), as Rust's `x != 0.0`.
fn f32_nonzero(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) != 0u;
}
