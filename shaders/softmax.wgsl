//!include strided.wgsl
// Softmax (LOG = false) or log-softmax (LOG = true) of each row: walk dims [0, split) index
// the rows, dim `split` runs along a row (walk.u.x = its length); operand y is the input,
// the output is contiguous at walk.offsets.x. Shifted by the row max (0 when the max is
// -inf); NaN in a row makes the row NaN, as on the CPU.
//   per_workgroup: a workgroup per row (long rows); per_thread: a thread per row.

override LOG: bool = false;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> scratch: array<f32, 256>;

fn load(base: u32, stride: u32, j: u32) -> f32 {
    return bitcast<f32>(src[base + j * stride]);
}

fn max_nan(m: f32, v: f32) -> f32 {
    return select(m, v, v > m || is_nan(v));
}

fn finish(v: f32, m: f32, s: f32) -> f32 {
    if (LOG) {
        return v - (log(s) + m);
    }
    return exp(v - m) * (1.0 / s);
}

@compute @workgroup_size(256)
fn per_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = workgroup_index(wid, nwg);
    if (row >= walk.count) { return; }
    let cols = walk.u.x;
    let base = walk.offsets.y + unravel(row, 0u, walk.split).y;
    let stride = walk.strides[walk.split].y;
    var m = bitcast<f32>(0xff800000u);
    for (var j = li; j < cols; j += WG) {
        m = max_nan(m, load(base, stride, j));
    }
    scratch[li] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) {
            scratch[li] = max_nan(scratch[li], scratch[li + s]);
        }
        workgroupBarrier();
    }
    m = scratch[0];
    if (m == bitcast<f32>(0xff800000u)) { m = 0.0; }
    workgroupBarrier();
    var total = 0.0;
    for (var j = li; j < cols; j += WG) {
        total += exp(load(base, stride, j) - m);
    }
    scratch[li] = total;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) {
            scratch[li] = scratch[li] + scratch[li + s];
        }
        workgroupBarrier();
    }
    let sum = scratch[0];
    let out = walk.offsets.x + row * cols;
    for (var j = li; j < cols; j += WG) {
        dst[out + j] = finish(load(base, stride, j), m, sum);
    }
}

@compute @workgroup_size(256)
fn per_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = workgroup_index(wid, nwg) * WG + li;
    if (row >= walk.count) { return; }
    let cols = walk.u.x;
    let base = walk.offsets.y + unravel(row, 0u, walk.split).y;
    let stride = walk.strides[walk.split].y;
    var m = bitcast<f32>(0xff800000u);
    for (var j = 0u; j < cols; j++) {
        m = max_nan(m, load(base, stride, j));
    }
    if (m == bitcast<f32>(0xff800000u)) { m = 0.0; }
    var sum = 0.0;
    for (var j = 0u; j < cols; j++) {
        sum += exp(load(base, stride, j) - m);
    }
    let out = walk.offsets.x + row * cols;
    for (var j = 0u; j < cols; j++) {
        dst[out + j] = finish(load(base, stride, j), m, sum);
    }
}
