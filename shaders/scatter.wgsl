//!include strided.wgsl
// dst.flat[index[i]] = values[i] (ACCUMULATE = false) or += (true), dst contiguous at
// walk.offsets.x with walk.u.x elements; values walked as operand y, index contiguous
// int32 at walk.offsets.z. Accumulation is atomic, so repeated indices all add (floats by
// compare-and-swap, since WGSL has no float atomics). Out-of-range indices are skipped.

override ACCUMULATE: bool = true;
override T: u32 = 0u;

@group(0) @binding(1) var<storage, read> values: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<atomic<u32>>;

fn add_f32(at: u32, v: f32) {
    var old = atomicLoad(&dst[at]);
    loop {
        let sum = bitcast<u32>(bitcast<f32>(old) + v);
        let r = atomicCompareExchangeWeak(&dst[at], old, sum);
        if (r.exchanged) { break; }
        old = r.old_value;
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let k = walk.base + i;
    let o = index[walk.offsets.z + k];
    if (o < 0 || u32(o) >= walk.u.x) { return; }
    let at = walk.offsets.x + u32(o);
    let v = values[walk.offsets.y + unravel(k, 0u, walk.ndim).y];
    if (!ACCUMULATE) {
        atomicStore(&dst[at], v);
    } else if (T == F32) {
        add_f32(at, bitcast<f32>(v));
    } else if (T == I32) {
        atomicAdd(&dst[at], v);
    } else {
        atomicOr(&dst[at], v);
    }
}
