//!include strided.wgsl
// out[i] = src.flat[index[i]], where `flat` is src in row-major order over the walk (operand
// y = src; walk.u.x = src's element count). Indices were bounds-checked on the host; one
// out of range reads as 0 rather than touching memory outside the tensor.
// Operands: x = out (contiguous), y = src, z = index (contiguous int32).

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let k = walk.base + i;
    let o = index[walk.offsets.z + k];
    var v = 0u;
    if (o >= 0 && u32(o) < walk.u.x) {
        v = src[walk.offsets.y + unravel(u32(o), 0u, walk.ndim).y];
    }
    dst[walk.offsets.x + k] = v;
}
