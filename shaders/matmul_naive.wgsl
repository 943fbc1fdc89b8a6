// Batched integer matrix product (int64 tensors, carried as int32 with wrapping arithmetic
// on the GPU): one thread per output element, any strides. Integer matmuls are rare (index
// arithmetic, tests); float32 goes through the tiled `matmul.wgsl`.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch_count: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    bias_off: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    c_off: u32,
    batch_ndim: u32,
    batch_base: u32,
    m_base: u32,
    n_base: u32,
    batch_shape: vec4<u32>,
    a_batch_strides: vec4<u32>,
    b_batch_strides: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read_write> c: array<i32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let col = p.n_base + gid.x;
    let row = p.m_base + gid.y;
    if (row >= p.m || col >= p.n) { return; }
    var rem = p.batch_base + wid.z;
    var a_base = p.a_off;
    var b_base = p.b_off;
    for (var d = p.batch_ndim; d > 0u; d--) {
        let size = p.batch_shape[d - 1u];
        let i = rem % size;
        rem = rem / size;
        a_base += i * p.a_batch_strides[d - 1u];
        b_base += i * p.b_batch_strides[d - 1u];
    }
    var acc = 0;
    for (var j = 0u; j < p.k; j++) {
        acc += a[a_base + row * p.a_rs + j * p.a_cs] * b[b_base + j * p.b_rs + col * p.b_cs];
    }
    c[p.c_off + (p.batch_base + wid.z) * p.m * p.n + row * p.n + col] = acc;
}
