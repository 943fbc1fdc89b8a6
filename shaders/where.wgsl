//!include strided.wgsl
// out = cond ? a : b, broadcast (operands x = out, y = cond, z = a, w = b). Words are copied
// as they are, so one pipeline serves every dtype.

@group(0) @binding(1) var<storage, read> cond: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<u32>;
@group(0) @binding(3) var<storage, read> b: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    out[off.x] = select(b[off.w], a[off.z], cond[off.y] != 0u);
}
