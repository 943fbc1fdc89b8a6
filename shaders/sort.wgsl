//!include strided.wgsl
// Bitonic sort of the rows of a contiguous tensor viewed as [outer, n, inner], each row
// padded to P = 2^m slots of (key, index) pairs. A key maps a value to an unsigned integer in
// a total order (NaN largest, -0.0 equal to 0.0; inverted when DESC); the index breaks ties,
// so the result is the stable sort and padding (key and index 0xffffffff) stays at the end.
// walk.u = (n, inner, P, k) and walk.f unused; walk.base = j (the compare distance).
//   load_pairs: pairs from the input (walk.offsets.y = its first element in the window).
//   merge_pairs: one compare-exchange stage (k, j) of the network; a thread per pair.
//   store_sorted: values (read again at their index, so NaN bits and -0.0 survive) and indices.

override T: u32 = 0u;
override DESC: u32 = 0u;

@group(0) @binding(1) var<storage, read_write> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> slot_index: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_values: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_indices: array<u32>;

fn sort_key(w: u32) -> u32 {
    var k: u32;
    if (T == F32) {
        let x = bitcast<f32>(w);
        if (is_nan(x)) {
            k = 0xffffffffu;
        } else {
            let b = bitcast<u32>(x) & select(0xffffffffu, 0u, x == 0.0);
            k = select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
        }
    } else {
        k = w ^ 0x80000000u;
    }
    return select(k, ~k, DESC == 1u);
}

// The input position of element j of row r.
fn element(r: u32, j: u32) -> u32 {
    let n = walk.u.x;
    let inner = walk.u.y;
    return (r / inner) * n * inner + j * inner + r % inner;
}

fn thread_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return workgroup_index(wid, nwg) * WG + li;
}

@compute @workgroup_size(256)
fn load_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let p = thread_index(wid, nwg, li);
    if (p >= walk.count) { return; }
    let slots = walk.u.z;
    let r = p / slots;
    let j = p % slots;
    if (j < walk.u.x) {
        keys[p] = sort_key(src[walk.offsets.y + element(r, j)]);
        slot_index[p] = j;
    } else {
        keys[p] = 0xffffffffu;
        slot_index[p] = 0xffffffffu;
    }
}

@compute @workgroup_size(256)
fn merge_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let t = thread_index(wid, nwg, li);
    if (t >= walk.count) { return; }
    let half_slots = walk.u.z / 2u;
    let k = walk.u.w;
    let j = walk.base;
    let r = t / half_slots;
    let q = t % half_slots;
    let lo = 2u * j * (q / j) + q % j;
    let a = r * walk.u.z + lo;
    let b = a + j;
    let ka = keys[a];
    let kb = keys[b];
    let ia = slot_index[a];
    let ib = slot_index[b];
    let a_greater = ka > kb || (ka == kb && ia > ib);
    let ascending = (lo & k) == 0u;
    if (a_greater == ascending) {
        keys[a] = kb;
        keys[b] = ka;
        slot_index[a] = ib;
        slot_index[b] = ia;
    }
}

@compute @workgroup_size(256)
fn store_sorted(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let p = thread_index(wid, nwg, li);
    if (p >= walk.count) { return; }
    let n = walk.u.x;
    let r = p / n;
    let pos = p % n;
    let j = slot_index[r * walk.u.z + pos];
    let out = element(r, pos);
    out_values[out] = src[walk.offsets.y + element(r, j)];
    out_indices[out] = j;
}
