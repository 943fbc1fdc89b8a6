// The parameters of the matrix-product kernels (`matmul.wgsl`, `matmul_naive.wgsl`; a
// library: kernels include it with `//!include matmul_params.wgsl`), mirrored by `Params` in
// rust/gpu/kernels/matmul.rs, and where a batch entry's operands start.

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
    // batch dims (innermost last) and the operands' strides along them
    batch_shape: vec4<u32>,
    a_batch_strides: vec4<u32>,
    b_batch_strides: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;

// Offsets of A's and B's first elements in batch entry `z` of this launch.
fn batch_offsets(z: u32) -> vec2<u32> {
    var rem = p.batch_base + z;
    var a_base = p.a_off;
    var b_base = p.b_off;
    for (var d = p.batch_ndim; d > 0u; d--) {
        let size = p.batch_shape[d - 1u];
        let i = rem % size;
        rem = rem / size;
        a_base += i * p.a_batch_strides[d - 1u];
        b_base += i * p.b_batch_strides[d - 1u];
    }
    return vec2<u32>(a_base, b_base);
}
