// Fused optimizer updates over one contiguous parameter: each thread reads its element of
// the parameter, gradient and state and writes the new parameter and state, in place of the
// ten-odd elementwise passes of the textbook formulas. The rules and the order of floating-
// point operations are those of the CPU kernels (`rust/cpu/optim.rs`, PyTorch's rules).
//
// Entry points differ in the state they bind, so each layout names only what it touches:
//   sgd (param, grad), sgd_momentum (+ momentum buffer),
//   adam (param, grad, exp_avg, exp_avg_sq), amsgrad (+ max_exp_avg_sq).

struct Optim {
    // element offsets of param, grad, state a, state b within their bound windows
    offsets: vec4<u32>,
    // x: offset of state c (max_exp_avg_sq); y: elements in this launch
    extra: vec4<u32>,
    // SGD: (sign, lr, momentum, 1 - dampening), (weight_decay, -, -, -)
    // Adam: (sign, shrink, weight_decay, 1 - beta1), (beta2, 1 - beta2, eps, step_size),
    //       (1 / sqrt(1 - beta2^t), -, -, -)
    f0: vec4<f32>,
    f1: vec4<f32>,
    f2: vec4<f32>,
}

// SGD: DECAY adds weight_decay * p to the direction; MOMENTUM 0 none, 1 the buffer's first
// step (it becomes the direction), 2 a running buffer. Adam: L2 adds weight_decay * p to the
// gradient (Adam's coupled decay; AdamW's decoupled decay is the `shrink` factor).
override DECAY: bool = false;
override MOMENTUM: u32 = 0u;
override NESTEROV: bool = false;
override L2: bool = false;

@group(0) @binding(0) var<uniform> o: Optim;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> state_a: array<f32>;
@group(0) @binding(4) var<storage, read_write> state_b: array<f32>;
@group(0) @binding(5) var<storage, read_write> state_c: array<f32>;

const WG: u32 = 256u;

fn element(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + li;
}

fn sgd_direction(i: u32) -> f32 {
    var d = o.f0.x * grad[o.offsets.y + i];
    if (DECAY) {
        d = d + o.f1.x * param[o.offsets.x + i];
    }
    return d;
}

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let d = sgd_direction(i);
    param[o.offsets.x + i] = param[o.offsets.x + i] - o.f0.y * d;
}

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    var d = sgd_direction(i);
    let mu = o.f0.z;
    var b = d;
    if (MOMENTUM == 2u) {
        b = state_a[o.offsets.z + i] * mu + o.f0.w * d;
    }
    state_a[o.offsets.z + i] = b;
    if (NESTEROV) {
        d = d + mu * b;
    } else {
        d = b;
    }
    param[o.offsets.x + i] = param[o.offsets.x + i] - o.f0.y * d;
}

// The decayed parameter and the new moments; returns the parameter, writes the moments.
fn adam_moments(i: u32) -> vec3<f32> {
    let p = param[o.offsets.x + i];
    var g = o.f0.x * grad[o.offsets.y + i];
    if (L2) {
        g = g + o.f0.z * p;
    }
    let m0 = state_a[o.offsets.z + i];
    let m = m0 + o.f0.w * (g - m0);
    let v = state_b[o.offsets.w + i] * o.f1.x + o.f1.y * g * g;
    state_a[o.offsets.z + i] = m;
    state_b[o.offsets.w + i] = v;
    return vec3<f32>(p * o.f0.y, m, v);
}

fn adam_apply(p: f32, m: f32, second: f32) -> f32 {
    return p - o.f1.w * (m / (sqrt(second) * o.f2.x + o.f1.z));
}

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let s = adam_moments(i);
    param[o.offsets.x + i] = adam_apply(s.x, s.y, s.z);
}

@compute @workgroup_size(256)
fn amsgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let s = adam_moments(i);
    let old = state_c[o.extra.x + i];
    // torch.maximum: NaN propagates (NaN test on the bits, which compilers cannot fold away).
    var top = old;
    if (s.z > old || (bitcast<u32>(s.z) & 0x7fffffffu) > 0x7f800000u) {
        top = s.z;
    }
    state_c[o.extra.x + i] = top;
    param[o.offsets.x + i] = adam_apply(s.x, s.y, top);
}
