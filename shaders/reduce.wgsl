//!include strided.wgsl
// Reductions over any set of axes. The input view is permuted so kept dims come first
// (walk dims [0, split)) and reduced ones last ([split, ndim)); operand y is the input,
// the output is contiguous at walk.offsets.x. One work unit reduces part `p` of the reduced
// range of output `o` (walk.u.x = reduced count R, u.y = parts, u.z = elements per part,
// u.w = outputs) and writes out[o * parts + p]; with several parts the host reduces the
// partials in a second launch.
//   rows: a workgroup per unit, threads striding over the part, then a tree in shared memory
//         (when the reduced elements are adjacent in memory, or outputs are few).
//   cols: a thread per unit, looping over the part (when the kept elements are adjacent, so
//         neighbouring threads read neighbouring words).

override KIND: u32 = 0u;
override T: u32 = 0u;

const SUM: u32 = 0u;
const PROD: u32 = 1u;
const MAX: u32 = 2u;
const MIN: u32 = 3u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> partial: array<u32, 256>;

fn identity() -> u32 {
    if (T == F32) {
        switch KIND {
            case SUM: { return bitcast<u32>(0.0); }
            case PROD: { return bitcast<u32>(1.0); }
            case MAX: { return 0xff800000u; } // -inf
            default: { return 0x7f800000u; }  // +inf
        }
    }
    switch KIND {
        case SUM: { return 0u; }
        case PROD: { return 1u; }
        case MAX: { return 0x80000000u; } // i32 min
        default: { return 0x7fffffffu; }  // i32 max
    }
}

// Combines an accumulator with a value; NaN propagates through max and min.
fn combine(acc: u32, x: u32) -> u32 {
    if (T == F32) {
        let a = bitcast<f32>(acc);
        let v = bitcast<f32>(x);
        switch KIND {
            case SUM: { return bitcast<u32>(a + v); }
            case PROD: { return bitcast<u32>(a * v); }
            case MAX: { return select(acc, x, v > a || is_nan(v)); }
            default: { return select(acc, x, v < a || is_nan(v)); }
        }
    }
    let a = bitcast<i32>(acc);
    let v = bitcast<i32>(x);
    switch KIND {
        case SUM: { return bitcast<u32>(a + v); }
        case PROD: { return bitcast<u32>(a * v); }
        case MAX: { return bitcast<u32>(max(a, v)); }
        default: { return bitcast<u32>(min(a, v)); }
    }
}

fn reduce_part(o: u32, p: u32, first: u32, step: u32) -> u32 {
    let base = walk.offsets.y + unravel(o, 0u, walk.split).y;
    let start = p * walk.u.z;
    let end = min(walk.u.x, start + walk.u.z);
    var acc = identity();
    for (var r = start + first; r < end; r += step) {
        acc = combine(acc, src[base + unravel(r, walk.split, walk.ndim).y]);
    }
    return acc;
}

@compute @workgroup_size(256)
fn rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = workgroup_index(wid, nwg);
    if (w >= walk.count) { return; }
    let parts = walk.u.y;
    partial[li] = reduce_part(w / parts, w % parts, li, WG);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) {
            partial[li] = combine(partial[li], partial[li + s]);
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        dst[walk.offsets.x + w] = partial[0];
    }
}

@compute @workgroup_size(256)
fn cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let t = workgroup_index(wid, nwg) * WG + li;
    if (t >= walk.count) { return; }
    let outputs = walk.u.w;
    let o = t % outputs;
    let p = t / outputs;
    dst[walk.offsets.x + o * walk.u.y + p] = reduce_part(o, p, 0u, 1u);
}
