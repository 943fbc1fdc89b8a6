// Row normalisation (batch and layer norm's core) over a contiguous [rows, cols] window, a
// workgroup per row. `forward` takes the row's statistics in one pass (sums shifted by the
// row's first element, so a large mean does not cancel the variance) and writes
// y = (x - mean) * rstd and rstd = 1 / sqrt(var + eps); `backward` reads the upstream
// gradient g and y once for two sums and writes dx = rstd * (g - mean(g) - y * mean(g * y)).
//   bindings: forward (x, y, rstd), backward (g, y, rstd, dx)

struct Norm {
    // element offsets within the bound windows: x (or g), y, rstd, dx
    offsets: vec4<u32>,
    // x: rows in this launch, y: row length
    dims: vec4<u32>,
    // x: eps
    f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Norm;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
// backward reads y and rstd only (they may share memory with the gradient)
@group(0) @binding(2) var<storage, read> y_in: array<f32>;
@group(0) @binding(3) var<storage, read> rstd_in: array<f32>;

const WG: u32 = 256u;

var<workgroup> s1: array<f32, 256>;
var<workgroup> s2: array<f32, 256>;

fn row_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// Sums s1 and s2 over the workgroup; every thread returns both totals.
fn reduce2(li: u32, x: f32, y: f32) -> vec2<f32> {
    s1[li] = x;
    s2[li] = y;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) {
            s1[li] = s1[li] + s1[li + s];
            s2[li] = s2[li] + s2[li + s];
        }
        workgroupBarrier();
    }
    return vec2<f32>(s1[0], s2[0]);
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = row_index(wid, nwg);
    if (row >= p.dims.x) { return; }
    let cols = p.dims.y;
    let x0 = p.offsets.x + row * cols;
    let shift = a[x0];
    var s = 0.0;
    var ss = 0.0;
    for (var j = li; j < cols; j += WG) {
        let v = a[x0 + j] - shift;
        s += v;
        ss += v * v;
    }
    let t = reduce2(li, s, ss);
    let n = f32(cols);
    let mean_d = t.x / n;
    let rstd = inverseSqrt(max(t.y / n - mean_d * mean_d, 0.0) + p.f.x);
    let mean = shift + mean_d;
    let y0 = p.offsets.y + row * cols;
    for (var j = li; j < cols; j += WG) {
        b[y0 + j] = (a[x0 + j] - mean) * rstd;
    }
    if (li == 0u) {
        c[p.offsets.z + row] = rstd;
    }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = row_index(wid, nwg);
    if (row >= p.dims.x) { return; }
    let cols = p.dims.y;
    let g0 = p.offsets.x + row * cols;
    let y0 = p.offsets.y + row * cols;
    var sg = 0.0;
    var sgy = 0.0;
    for (var j = li; j < cols; j += WG) {
        let g = a[g0 + j];
        sg += g;
        sgy += g * y_in[y0 + j];
    }
    let t = reduce2(li, sg, sgy);
    let n = f32(cols);
    let mg = t.x / n;
    let mgy = t.y / n;
    let r = rstd_in[p.offsets.z + row];
    let d0 = p.offsets.w + row * cols;
    for (var j = li; j < cols; j += WG) {
        d[d0 + j] = r * (a[g0 + j] - mg - y_in[y0 + j] * mgy);
    }
}
