//!include matmul_params.wgsl
// Batched float32 matrix product C[b] = A[b] @ B[b] (+ bias), A: M x K, B: K x N, C
// contiguous M x N. A and B are read through any strides, so transposed operands (the NT
// and TN products of backward passes) are never materialised.
//
// Tiling: a 16 x 16 workgroup computes a BM x BN tile of C (BM = BN = 16 * TM: 128 x 128
// with TM = 8, 64 x 64 with TM = 4) in steps of BK along K (BK = 1024 / BM, so each tile of
// A and of B is 1024 floats: one vec4 or four scalars per thread). Each thread keeps a
// TM x TM register tile; its rows are ty*4 + {0..3} (+ 64) and its columns tx*4 + {0..3}
// (+ 64), so shared memory is read as vec4s without bank conflicts and C is written in
// coalesced runs. The next tiles are fetched into registers while the current ones are
// multiplied. Bounds checks are compiled in only when a tile can cross an edge (BOUNDS).

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> c: array<f32>;

// Register tile side (4 or 8); TM / 4 groups of four rows (and columns) per thread.
override TM: u32 = 8u;
// A's adjacent elements run along k (row-major A) or else along m (a transposed view).
override A_KCONTIG: bool = true;
// B's adjacent elements run along n (row-major B) or else along k (a transposed view).
override B_NCONTIG: bool = true;
// Load A (B) as vec4s along its adjacent dim: the host checked alignment and divisibility.
override A_VEC: bool = false;
override B_VEC: bool = false;
override BOUNDS: bool = true;
override BIAS: bool = false;

override BM: u32 = 16u * TM;
override BK: u32 = 1024u / BM;
override GROUPS: u32 = TM / 4u;

var<workgroup> As: array<vec4<f32>, 256>; // [BK][BM], k-major
var<workgroup> Bs: array<vec4<f32>, 256>; // [BK][BN]

fn a_at(base: u32, row: u32, col: u32) -> f32 {
    if (BOUNDS && (row >= p.m || col >= p.k)) { return 0.0; }
    return a[base + row * p.a_rs + col * p.a_cs];
}

fn b_at(base: u32, row: u32, col: u32) -> f32 {
    if (BOUNDS && (row >= p.k || col >= p.n)) { return 0.0; }
    return b[base + row * p.b_rs + col * p.b_cs];
}

// This thread's four elements of the A tile at (m0, k0), in the order `store_a` expects.
fn load_a(base: u32, m0: u32, k0: u32, li: u32) -> vec4<f32> {
    if (A_KCONTIG) {
        let row = m0 + li / (BK / 4u);
        let col = k0 + (li % (BK / 4u)) * 4u;
        if (A_VEC) {
            if (BOUNDS && (row >= p.m || col >= p.k)) { return vec4<f32>(0.0); }
            return a4[(base + row * p.a_rs + col) / 4u];
        }
        return vec4<f32>(a_at(base, row, col), a_at(base, row, col + 1u), a_at(base, row, col + 2u), a_at(base, row, col + 3u));
    }
    let col = k0 + li / (BM / 4u);
    let row = m0 + (li % (BM / 4u)) * 4u;
    if (A_VEC) {
        if (BOUNDS && (row >= p.m || col >= p.k)) { return vec4<f32>(0.0); }
        return a4[(base + row + col * p.a_cs) / 4u];
    }
    return vec4<f32>(a_at(base, row, col), a_at(base, row + 1u, col), a_at(base, row + 2u, col), a_at(base, row + 3u, col));
}

fn store_a(v: vec4<f32>, li: u32) {
    if (A_KCONTIG) {
        let mi = li / (BK / 4u);
        let kk = (li % (BK / 4u)) * 4u;
        for (var j = 0u; j < 4u; j++) {
            let at = (kk + j) * BM + mi;
            As[at / 4u][at % 4u] = v[j];
        }
    } else {
        let kk = li / (BM / 4u);
        let mi = (li % (BM / 4u)) * 4u;
        As[(kk * BM + mi) / 4u] = v;
    }
}

fn load_b(base: u32, k0: u32, n0: u32, li: u32) -> vec4<f32> {
    if (B_NCONTIG) {
        let row = k0 + li / (BM / 4u);
        let col = n0 + (li % (BM / 4u)) * 4u;
        if (B_VEC) {
            if (BOUNDS && (row >= p.k || col >= p.n)) { return vec4<f32>(0.0); }
            return b4[(base + row * p.b_rs + col) / 4u];
        }
        return vec4<f32>(b_at(base, row, col), b_at(base, row, col + 1u), b_at(base, row, col + 2u), b_at(base, row, col + 3u));
    }
    let col = n0 + li / (BK / 4u);
    let row = k0 + (li % (BK / 4u)) * 4u;
    if (B_VEC) {
        if (BOUNDS && (row >= p.k || col >= p.n)) { return vec4<f32>(0.0); }
        return b4[(base + row + col * p.b_cs) / 4u];
    }
    return vec4<f32>(b_at(base, row, col), b_at(base, row + 1u, col), b_at(base, row + 2u, col), b_at(base, row + 3u, col));
}

fn store_b(v: vec4<f32>, li: u32) {
    if (B_NCONTIG) {
        let kk = li / (BM / 4u);
        let ni = (li % (BM / 4u)) * 4u;
        Bs[(kk * BM + ni) / 4u] = v;
    } else {
        let ni = li / (BK / 4u);
        let kk = (li % (BK / 4u)) * 4u;
        for (var j = 0u; j < 4u; j++) {
            let at = (kk + j) * BM + ni;
            Bs[at / 4u][at % 4u] = v[j];
        }
    }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let tx = lid.x;
    let ty = lid.y;
    let m0 = p.m_base + wid.y * BM;
    let n0 = p.n_base + wid.x * BM;
    // Offsets of this batch entry.
    let bases = batch_offsets(wid.z);
    let a_base = bases.x;
    let b_base = bases.y;
    let c_base = p.c_off + (p.batch_base + wid.z) * p.m * p.n;

    var acc: array<vec4<f32>, 16>; // [TM rows][GROUPS column vec4s]
    for (var i = 0u; i < TM * GROUPS; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    let tiles = (p.k + BK - 1u) / BK;
    var ra = vec4<f32>(0.0);
    var rb = vec4<f32>(0.0);
    if (tiles > 0u) {
        ra = load_a(a_base, m0, 0u, li);
        rb = load_b(b_base, 0u, n0, li);
    }
    for (var t = 0u; t < tiles; t++) {
        store_a(ra, li);
        store_b(rb, li);
        workgroupBarrier();
        if (t + 1u < tiles) {
            ra = load_a(a_base, m0, (t + 1u) * BK, li);
            rb = load_b(b_base, (t + 1u) * BK, n0, li);
        }
        for (var kk = 0u; kk < BK; kk++) {
            var bv: array<vec4<f32>, 2>;
            for (var g = 0u; g < GROUPS; g++) {
                bv[g] = Bs[(kk * BM) / 4u + g * 16u + tx];
            }
            for (var g = 0u; g < GROUPS; g++) {
                let av = As[(kk * BM) / 4u + g * 16u + ty];
                for (var i = 0u; i < 4u; i++) {
                    for (var h = 0u; h < GROUPS; h++) {
                        let at = (g * 4u + i) * GROUPS + h;
                        acc[at] = fma(vec4<f32>(av[i]), bv[h], acc[at]);
                    }
                }
            }
        }
        workgroupBarrier();
    }

    for (var g = 0u; g < GROUPS; g++) {
        for (var i = 0u; i < 4u; i++) {
            let row = m0 + g * 64u + ty * 4u + i;
            if (BOUNDS && row >= p.m) { continue; }
            for (var h = 0u; h < GROUPS; h++) {
                let col = n0 + h * 64u + tx * 4u;
                var v = acc[(g * 4u + i) * GROUPS + h];
                for (var j = 0u; j < 4u; j++) {
                    if (BOUNDS && col + j >= p.n) { break; }
                    var x = v[j];
                    if (BIAS) { x += bias[p.bias_off + col + j]; }
                    c[c_base + row * p.n + col + j] = x;
                }
            }
        }
    }
}
