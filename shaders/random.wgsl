//!include strided.wgsl
// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011). Thread t turns the counter (t, walk.u.z, 0, 0) under the key
// (walk.u.x, walk.u.y) into four words, so any element can be generated independently and
// a launch is reproducible from its key alone. Output contiguous at walk.offsets.x with
// walk.count elements from element walk.base (a multiple of 4).
//   MODE 0: uniform in [f.x, f.y);  1: normal with mean f.x and std f.y (Box-Muller);
//   2: dropout mask, f.y where the uniform is below f.x (the keep probability), else 0.

override MODE: u32 = 0u;

@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

// High and low words of the 64-bit product a * b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let lo_lo = a0 * b0;
    let lo_hi = a0 * b1;
    let hi_lo = a1 * b0;
    let mid = (lo_lo >> 16u) + (lo_hi & 0xffffu) + (hi_lo & 0xffffu);
    let hi = a1 * b1 + (lo_hi >> 16u) + (hi_lo >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

// A uniform float in [0, 1) from the top 24 bits of a word.
fn unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let t = workgroup_index(wid, nwg) * WG + li;
    let first = t * 4u;
    if (first >= walk.count) { return; }
    let bits = philox4x32_10(vec4<u32>((walk.base / 4u) + t, walk.u.z, 0u, 0u), walk.u.xy);
    var v: vec4<f32>;
    if (MODE == 1u) {
        let r0 = sqrt(-2.0 * log(1.0 - unit(bits.x)));
        let r1 = sqrt(-2.0 * log(1.0 - unit(bits.z)));
        let a0 = 6.283185307179586 * unit(bits.y);
        let a1 = 6.283185307179586 * unit(bits.w);
        v = walk.f.x + walk.f.y * vec4<f32>(r0 * cos(a0), r0 * sin(a0), r1 * cos(a1), r1 * sin(a1));
    } else {
        let u = vec4<f32>(unit(bits.x), unit(bits.y), unit(bits.z), unit(bits.w));
        if (MODE == 2u) {
            v = select(vec4<f32>(0.0), vec4<f32>(walk.f.y), u < vec4<f32>(walk.f.x));
        } else {
            v = walk.f.x + (walk.f.y - walk.f.x) * u;
        }
    }
    for (var j = 0u; j < 4u; j++) {
        if (first + j < walk.count) {
            dst[walk.offsets.x + walk.base + first + j] = v[j];
        }
    }
}
