//!include matmul_params.wgsl
// Batched integer matrix product (int64 tensors, carried as int32 with wrapping arithmetic
// on the GPU): one thread per output element, any strides. Integer matmuls are rare (index
// arithmetic, tests); float32 goes through the tiled `matmul.wgsl`.

@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read_write> c: array<i32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let col = p.n_base + gid.x;
    let row = p.m_base + gid.y;
    if (row >= p.m || col >= p.n) { return; }
    let bases = batch_offsets(wid.z);
    let a_base = bases.x;
    let b_base = bases.y;
    var acc = 0;
    for (var j = 0u; j < p.k; j++) {
        acc += a[a_base + row * p.a_rs + j * p.a_cs] * b[b_base + j * p.b_rs + col * p.b_cs];
    }
    c[p.c_off + (p.batch_base + wid.z) * p.m * p.n + row * p.n + col] = acc;
}
