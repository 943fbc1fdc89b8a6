//!include strided.wgsl
// Index of the max (KIND = 2) or min (KIND = 3) along one axis: the first one, and the first
// NaN if there is one (as PyTorch). Walk dims [0, split) are the kept ones, dim `split` the
// axis (walk.u.x = its length); operand y is the input; out holds int32 indices.
//   per_thread: one thread per output (short axes).
//   per_workgroup: one workgroup per output, a tree over (value, index) pairs (long axes).

override KIND: u32 = 2u;
override T: u32 = 0u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> best_value: array<u32, 256>;
var<workgroup> best_index: array<u32, 256>;

// Whether (v2, i2) should replace (v1, i1).
fn better(v2: u32, i2: u32, v1: u32, i1: u32) -> bool {
    if (T == F32) {
        let a = bitcast<f32>(v1);
        let b = bitcast<f32>(v2);
        let na = is_nan(a);
        let nb = is_nan(b);
        if (na || nb) {
            return nb && (!na || i2 < i1);
        }
        if (a == b) { return i2 < i1; }
        return select((b < a), (b > a), KIND == 2u);
    }
    let a = bitcast<i32>(v1);
    let b = bitcast<i32>(v2);
    if (a == b) { return i2 < i1; }
    return select((b < a), (b > a), KIND == 2u);
}

fn row_base(o: u32) -> u32 {
    return walk.offsets.y + unravel(o, 0u, walk.split).y;
}

@compute @workgroup_size(256)
fn per_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let o = workgroup_index(wid, nwg) * WG + li;
    if (o >= walk.count) { return; }
    let base = row_base(o);
    let stride = walk.strides[walk.split].y;
    var v = src[base];
    var idx = 0u;
    for (var j = 1u; j < walk.u.x; j++) {
        let x = src[base + j * stride];
        if (better(x, j, v, idx)) {
            v = x;
            idx = j;
        }
    }
    dst[walk.offsets.x + o] = idx;
}

@compute @workgroup_size(256)
fn per_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let o = workgroup_index(wid, nwg);
    if (o >= walk.count) { return; }
    let base = row_base(o);
    let stride = walk.strides[walk.split].y;
    var v = 0u;
    var idx = 0xffffffffu;
    for (var j = li; j < walk.u.x; j += WG) {
        let x = src[base + j * stride];
        if (idx == 0xffffffffu || better(x, j, v, idx)) {
            v = x;
            idx = j;
        }
    }
    best_value[li] = v;
    best_index[li] = idx;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) {
            let i2 = best_index[li + s];
            if (i2 != 0xffffffffu && (best_index[li] == 0xffffffffu || better(best_value[li + s], i2, best_value[li], best_index[li]))) {
                best_value[li] = best_value[li + s];
                best_index[li] = i2;
            }
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        dst[walk.offsets.x + o] = best_index[0];
    }
}
