//!include strided.wgsl
// Fills a contiguous range with one word (walk.u.x: the value's bits in the tensor's dtype).

@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    dst[walk.offsets.x + walk.base + i] = walk.u.x;
}
