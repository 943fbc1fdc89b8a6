//!include strided.wgsl
//!include math.wgsl
//!include binary_ops.wgsl
// Broadcasting binary ops. `main`: out = a op b (operands x = out, y = a, z = b; comparisons
// and logical ops write bools). `inplace`: dst = dst op src (x = dst, y = src), with ASSIGN
// for copies into views. T is the dtype of the inputs. The ops themselves (`binary_table_*`,
// op codes included) are generated from the op table (rust/ops/table.rs) into binary_ops.wgsl;
// what is left here is the copy and bool arithmetic.

override OP: u32 = 0u;
override T: u32 = 0u;

fn other_f32(x: f32, y: f32) -> u32 {
    return bitcast<u32>(y); // ASSIGN
}

fn other_i32(x: i32, y: i32) -> u32 {
    return bitcast<u32>(y); // ASSIGN
}

// Arithmetic on bools: + and max are "or", * and min are "and" (PyTorch's rules).
fn other_bool(x: u32, y: u32) -> u32 {
    switch OP {
        case ADD, MAXIMUM: { return x | y; }
        case MUL, MINIMUM: { return x & y; }
        default: { return y; } // ASSIGN
    }
}

fn apply(x: u32, y: u32) -> u32 {
    if (T == F32) { return binary_table_f32(bitcast<f32>(x), bitcast<f32>(y)); }
    if (T == I32) { return binary_table_i32(bitcast<i32>(x), bitcast<i32>(y)); }
    return binary_table_bool(x, y);
}

@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    out[off.x] = apply(a[off.y], b[off.z]);
}

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    dst[off.x] = apply(dst[off.x], src[off.y]);
}
