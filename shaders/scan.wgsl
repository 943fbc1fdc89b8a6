//!include strided.wgsl
//!include math.wgsl
// Scans along one dim of a contiguous tensor viewed as [outer, n, inner]: one thread per
// (outer, inner) row walks its n elements (walk.u.x = n, u.y = inner, u.z = 1 to walk
// backwards; walk.count = rows; walk.offsets.y = the input's first element in its window).
// KIND: 0 sum, 1 prod, 2 max, 3 min, 4 logaddexp. T: F32 or I32 (int64 carried in 32 bits).
//   scan: values only (sum, prod, logaddexp).
//   arg_scan: max/min with the index each running value came from (ties and NaN: the latest).

override KIND: u32 = 0u;
override T: u32 = 0u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst_index: array<u32>;

fn is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn logaddexp(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) { return bitcast<f32>(QUIET_NAN); }
    let hi = max(a, b);
    let lo = min(a, b);
    // -inf with -inf stays -inf, and inf absorbs everything (no inf - inf).
    if (is_inf(hi)) { return hi; }
    return hi + log1p(exp(lo - hi));
}

fn combine_f32(acc: f32, x: f32) -> f32 {
    switch (KIND) {
        case 1u: { return acc * x; }
        case 4u: { return logaddexp(acc, x); }
        default: { return acc + x; }
    }
}

fn combine_i32(acc: i32, x: i32) -> i32 {
    if (KIND == 1u) { return acc * x; }
    return acc + x;
}

// Position of step s of row t (its first element and the stride along n).
fn row_start(t: u32) -> u32 {
    let n = walk.u.x;
    let inner = walk.u.y;
    return (t / inner) * n * inner + t % inner;
}

fn step_index(s: u32) -> u32 {
    return select(s, walk.u.x - 1u - s, walk.u.z == 1u);
}

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let t = workgroup_index(wid, nwg) * WG + li;
    if (t >= walk.count) { return; }
    let base = row_start(t);
    let inner = walk.u.y;
    var accf = select(0.0, 1.0, KIND == 1u);
    if (KIND == 4u) { accf = bitcast<f32>(0xff800000u); }
    var acci = select(0, 1, KIND == 1u);
    for (var s = 0u; s < walk.u.x; s++) {
        let p = base + step_index(s) * inner;
        let w = src[walk.offsets.y + p];
        if (T == F32) {
            accf = combine_f32(accf, bitcast<f32>(w));
            dst[p] = bitcast<u32>(accf);
        } else {
            acci = combine_i32(acci, bitcast<i32>(w));
            dst[p] = bitcast<u32>(acci);
        }
    }
}

// Whether x replaces the running value v (max: x >= v; min: x <= v; NaN always, and
// nothing replaces a NaN).
fn takes(x: u32, v: u32) -> bool {
    if (T == F32) {
        let a = bitcast<f32>(x);
        let b = bitcast<f32>(v);
        if (is_nan(a)) { return true; }
        if (is_nan(b)) { return false; }
        return select(a <= b, a >= b, KIND == 2u);
    }
    let a = bitcast<i32>(x);
    let b = bitcast<i32>(v);
    return select(a <= b, a >= b, KIND == 2u);
}

@compute @workgroup_size(256)
fn arg_scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let t = workgroup_index(wid, nwg) * WG + li;
    if (t >= walk.count) { return; }
    let base = row_start(t);
    let inner = walk.u.y;
    var v = 0u;
    var at = 0u;
    for (var s = 0u; s < walk.u.x; s++) {
        let j = step_index(s);
        let p = base + j * inner;
        let x = src[walk.offsets.y + p];
        if (s == 0u || takes(x, v)) {
            v = x;
            at = j;
        }
        dst[p] = v;
        dst_index[p] = at;
    }
}
